"""A PNG of latency by operation, package next to raw driver.

Bars are medians, whiskers reach p99; the axis is logarithmic because a bulk
create takes a thousand times longer than a page read.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.common.charts import plt, save
from benchmarks.operations.report import Result


def write_chart(results: list[Result], path: Path, title: str) -> None:
    names = [r.name for r in results]
    rows = range(len(results))
    height = 0.38
    figure, axes = plt.subplots(figsize=(10, 0.55 * len(results) + 1.6))
    for offset, side, color in (
        (-height / 2, "package", "#3b6ea8"),
        (height / 2, "raw", "#9a9a9a"),
    ):
        stats = [r.pair.package if side == "package" else r.pair.raw for r in results]
        medians = [s.p50_ms for s in stats]
        whiskers = [[0.0] * len(stats), [s.p99_ms - s.p50_ms for s in stats]]
        label = "package p50 (whisker: p99)" if side == "package" else "raw driver p50 (p99)"
        axes.barh(
            [y + offset for y in rows],
            medians,
            height,
            xerr=whiskers,
            color=color,
            label=label,
            error_kw={"elinewidth": 1, "capsize": 2},
        )
    axes.set_yticks(list(rows), names)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel("latency per call, ms (log scale)")
    axes.set_title(title, fontsize=10)
    axes.grid(axis="x", which="both", alpha=0.3)
    axes.legend(loc="upper right", fontsize=8)
    save(figure, path)
