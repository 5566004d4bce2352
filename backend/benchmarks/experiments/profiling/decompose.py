"""Split one package call into its parts: the driver's own time and everything else.

With a clock around the bare operation (without `@validated`) and engine
events around each `cursor.execute`, a call's time divides into: the time
inside the driver (sending the statement and receiving the rows), and the
rest, which is the operation's own code, SQLAlchemy's statement compilation
cache and result processing, and turning rows into ORM objects. Argument
validation is measured apart by `run.breakdown`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

Parts = dict[str, float]  # part name -> microseconds

DRIVER = "driver: cursor.execute (send, wait, receive)"
REST = "operation code, SQLAlchemy compile cache, result rows -> objects"


def drive(session: Session, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Parts:
    """One call of `operation` (an undecorated operation), timed piece by piece."""
    clock = time.perf_counter_ns
    in_driver = [0, 0]  # [total ns, start of the current execute]
    engine = session.get_bind()

    def before(*_: Any) -> None:
        in_driver[1] = clock()

    def after(*_: Any) -> None:
        in_driver[0] += clock() - in_driver[1]

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        started = clock()
        operation(session, *args, **kwargs)
        total = clock() - started
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    return {DRIVER: in_driver[0] / 1000, REST: (total - in_driver[0]) / 1000}


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
