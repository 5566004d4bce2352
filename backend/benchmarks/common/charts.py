"""PNG charts drawn without a display: the backend is chosen and the file written in one place."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["plt", "save"]


def save(figure: Figure, path: Path) -> None:
    """Lay the figure out, write it as a PNG (making its folder), and free it."""
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
