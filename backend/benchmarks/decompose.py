"""Split one package call into its parts by driving the operation's steps by hand.

An operation is a generator of steps (see `src.crud.steps`); running it here,
with a clock around each piece, attributes the time to: argument validation,
the operation's own code (building statements, cursors, the page), each
step's statement cache key, its execution and, for ORM steps, turning rows
into objects. What the public call costs beyond the sum is the blocking driver.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlmodel import Session

Parts = dict[str, float]  # part name -> microseconds


def drive(session: Session, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Parts:
    """One call of `operation` (an undecorated step generator), timed piece by piece."""
    clock = time.perf_counter_ns
    parts: defaultdict[str, int] = defaultdict(int)
    steps = operation(*args, **kwargs)
    started = clock()
    step = next(steps)
    parts["operation code (statements, cursor, page)"] += clock() - started
    while True:
        name = type(step).__name__
        statement: Any = getattr(step, "statement", None)
        if statement is not None:
            started = clock()
            statement._generate_cache_key()  # memoized: the execution below reuses it
            parts[f"{name}: statement cache key"] += clock() - started
        if name in ("All", "First"):
            started = clock()
            result = session.scalars(statement, step.parameters)
            parts[f"{name}: execute (compile cache, driver, result)"] += clock() - started
            started = clock()
            value = list(result) if name == "All" else result.first()
            parts[f"{name}: rows -> ORM objects"] += clock() - started
        else:
            started = clock()
            value = step.run(session)
            parts[f"{name}: run"] += clock() - started
        started = clock()
        try:
            step = steps.send(value)
        except StopIteration:
            parts["operation code (statements, cursor, page)"] += clock() - started
            return {k: v / 1000 for k, v in parts.items()}
        parts["operation code (statements, cursor, page)"] += clock() - started


def median_parts(samples: list[Parts]) -> Parts:
    """Median of each part over many calls (parts missing from a call count as 0)."""
    names = {name for sample in samples for name in sample}
    return {n: statistics.median(s.get(n, 0.0) for s in samples) for n in sorted(names)}


def median_us(call: Callable[[int], object], calls: int, warmup: int = 50) -> float:
    """Median wall time of `call(i)` in microseconds."""
    for i in range(warmup):
        call(i)
    clock = time.perf_counter_ns
    samples = []
    for i in range(calls):
        started = clock()
        call(i)
        samples.append(clock() - started)
    return statistics.median(samples) / 1000
