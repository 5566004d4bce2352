"""Timing: both sides of an operation in alternating blocks, summarised as percentiles.

The package and the raw driver run in turns (a block of one, then a block of
the other) rather than one whole series after the other, so anything that
drifts during a run (other processes on the machine, autovacuum, caches
warming) weighs on both sides alike and the ratio stays fair.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Call = Callable[[int], object]  # one call; the argument picks the user/row for this repetition


@dataclass(frozen=True, slots=True)
class Stats:
    calls: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    samples_ms: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Pair:
    package: Stats
    raw: Stats

    @property
    def ratio(self) -> float:
        """Package median over raw median: what the Python layers cost, as a factor."""
        return self.package.p50_ms / self.raw.p50_ms


def percentile(samples: Sequence[float], q: int) -> float:
    """The q-th percentile (1 to 99), interpolated between ranks; one sample is every percentile."""
    if len(samples) < 2:
        return samples[0] if samples else float("nan")
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def summarise(samples_ns: list[int]) -> Stats:
    """p50/p95/p99 (interpolated between ranks) of a series of call durations."""
    ms = sorted(ns / 1e6 for ns in samples_ns)
    p50, p95, p99 = (percentile(ms, q) for q in (50, 95, 99))
    return Stats(len(ms), p50, p95, p99, ms[-1], tuple(ms))


def _timed(call: Call, indexes: range, into: list[int]) -> None:
    clock = time.perf_counter_ns
    for i in indexes:
        started = clock()
        call(i)  # the result is dropped at once, as a request handler would
        into.append(clock() - started)


def time_pair(package: Call, raw: Call, *, calls: int, warmup: int, blocks: int = 10) -> Pair:
    """Warm both sides up, then time `calls` calls of each in `blocks` alternating blocks."""
    for i in range(warmup):
        package(i)
        raw(i)
    size = max(1, calls // blocks)
    package_ns: list[int] = []
    raw_ns: list[int] = []
    for start in range(0, calls, size):
        indexes = range(warmup + start, warmup + min(start + size, calls))
        _timed(package, indexes, package_ns)
        _timed(raw, indexes, raw_ns)
    return Pair(summarise(package_ns), summarise(raw_ns))
