"""The service benchmark's figures: per variant, as JSON, a Markdown table and a PNG.

A variant's figures pool all of its runs: requests per second is all its
requests over all its measured seconds, latencies are percentiles of all its
samples, CPU per request is all the CPU over all the requests. The targets of
issue 15 are printed as met or missed against the peer, and the raw-driver
limit's (`limit_targets`) against the raw service, with both sides' figures;
none is ever asserted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common.charts import plt, save
from benchmarks.common.measure import percentile
from benchmarks.service.load import ENDPOINTS, LoadResult
from benchmarks.service.stack import Snapshot

MET, MISSED = "✅ met", "❌ missed"
COMPONENTS = ("service", "postgres", "pooler")


@dataclass(frozen=True, slots=True)
class Run:
    variant: str
    load: LoadResult
    cost: Snapshot

    def line(self) -> str:
        rate = self.load.requests / self.load.elapsed_s if self.load.elapsed_s else 0.0
        return (
            f"{self.variant}: {self.load.requests:,} requests in {self.load.elapsed_s:.1f} s "
            f"({rate:,.0f}/s), {self.cost.logins} pooler logins, {len(self.load.errors)} errors"
        )


@dataclass(frozen=True, slots=True)
class Summary:
    variant: str
    runs: int
    requests: int
    requests_per_s: float
    p50_ms: dict[str, float]  # per endpoint, and "all"
    p99_ms: dict[str, float]
    cpu_ms_per_request: dict[str, float]  # service, postgres, pooler, total, driver
    logins_per_1000: float
    errors: int


def summarize(runs: list[Run]) -> dict[str, Summary]:
    summaries: dict[str, Summary] = {}
    for variant in dict.fromkeys(run.variant for run in runs):
        mine = [run for run in runs if run.variant == variant]
        samples = {
            name: [s for r in mine for s in r.load.latencies.get(name, [])] for name in ENDPOINTS
        }
        samples["all"] = [s for name in ENDPOINTS for s in samples[name]]
        requests = sum(run.load.requests for run in mine)
        per_request = 1000 / requests if requests else float("nan")
        cpu = {
            "service": sum(r.cost.service_s for r in mine) * per_request,
            "postgres": sum(r.cost.postgres_s for r in mine) * per_request,
            "pooler": sum(r.cost.pooler_s for r in mine) * per_request,
            "driver": sum(r.cost.driver_s for r in mine) * per_request,
        }
        cpu["total"] = cpu["service"] + cpu["postgres"] + cpu["pooler"]
        summaries[variant] = Summary(
            variant=variant,
            runs=len(mine),
            requests=requests,
            requests_per_s=requests / sum(run.load.elapsed_s for run in mine),
            p50_ms={k: percentile(v, 50) * 1000 for k, v in samples.items()},
            p99_ms={k: percentile(v, 99) * 1000 for k, v in samples.items()},
            cpu_ms_per_request=cpu,
            logins_per_1000=sum(r.cost.logins for r in mine) * per_request,
            errors=sum(len(r.load.errors) for r in mine),
        )
    return summaries


def targets(s: dict[str, Summary]) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for issue 15's service targets."""
    sync, peer, aio = s["package-sync"], s["peer"], s["package-async"]
    rate = sync.requests_per_s / peer.requests_per_s
    cpu = sync.cpu_ms_per_request["total"] / peer.cpu_ms_per_request["total"]
    p99 = sync.p99_ms["all"] / peer.p99_ms["all"]
    async_rate = aio.requests_per_s / sync.requests_per_s
    return [
        ("sync requests/s ≥ 1.5x the peer's", f"{rate:.2f}x", rate >= 1.5),
        ("sync server CPU per request ≤ 0.6x the peer's", f"{cpu:.2f}x", cpu <= 0.6),
        ("sync p99 (all requests) no worse than the peer's", f"{p99:.2f}x", p99 <= 1.0),
        ("async requests/s at least sync's", f"{async_rate:.2f}x", async_rate >= 1.0),
        ("sync ≤ 1 pooler login per 1,000 requests", f"{sync.logins_per_1000:.2f}",
         sync.logins_per_1000 <= 1),
        ("async ≤ 1 pooler login per 1,000 requests", f"{aio.logins_per_1000:.2f}",
         aio.logins_per_1000 <= 1),
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Ratio:
    """One ratio target: `numerator`'s figure over `denominator`'s, against `bound`."""

    target: str
    figure: str  # what is compared, with its unit
    numerator: str  # variant
    numerator_value: float
    denominator: str  # variant
    denominator_value: float
    bound: float
    at_least: bool  # the ratio must be >= bound (else <= bound)

    @property
    def ratio(self) -> float:
        return self.numerator_value / self.denominator_value

    @property
    def met(self) -> bool:
        return self.ratio >= self.bound if self.at_least else self.ratio <= self.bound


LIMIT_VARIANTS = frozenset({"package-sync", "package-async", "raw"})


def limit_targets(s: dict[str, Summary]) -> list[Ratio]:
    """The package's service against the raw-driver limit (`benchmarks.service.raw`)."""
    if not s.keys() >= LIMIT_VARIANTS:
        return []
    sync, raw, aio = s["package-sync"], s["raw"], s["package-async"]
    service_cpu = "service CPU ms/request"
    return [
        Ratio("sync requests/s ≥ 0.85x the raw driver's", "requests/s",
              sync.variant, sync.requests_per_s, raw.variant, raw.requests_per_s, 0.85, True),
        Ratio("sync service CPU per request ≤ 1.25x the raw driver's", service_cpu,
              sync.variant, sync.cpu_ms_per_request["service"],
              raw.variant, raw.cpu_ms_per_request["service"], 1.25, False),
        Ratio("async requests/s ≥ 1x sync's", "requests/s",
              aio.variant, aio.requests_per_s, sync.variant, sync.requests_per_s, 1.0, True),
    ]  # fmt: skip


def markdown(s: dict[str, Summary], sizes: str, command: str, wall_s: float) -> str:
    variants = list(s.values())
    lines = [
        "# Service benchmark: example service vs peer-style service and the raw driver",
        "",
        f"`{command}` — {sizes}; uvicorn 2 workers each, default pool settings, through a TLS "
        f"PgBouncer (transaction mode) in front of a TLS PostgreSQL; wall time {wall_s:.0f} s.",
        "",
        "| variant | runs | requests | requests/s | p50 ms | p99 ms"
        " | CPU ms/request: service | PostgreSQL | pooler | server total | (load driver)"
        " | pooler logins /1,000 req | errors |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for v in variants:
        c = v.cpu_ms_per_request
        lines.append(
            f"| {v.variant} | {v.runs} | {v.requests:,} | {v.requests_per_s:,.0f} | "
            f"{v.p50_ms['all']:.1f} | {v.p99_ms['all']:.1f} | {c['service']:.2f} | "
            f"{c['postgres']:.2f} | {c['pooler']:.2f} | {c['total']:.2f} | {c['driver']:.2f} | "
            f"{v.logins_per_1000:.2f} | {v.errors} |"
        )
    lines += ["", "p50 / p99 per endpoint, ms:", ""]
    lines.append("| endpoint | " + " | ".join(v.variant for v in variants) + " |")
    lines.append("|---|" + "--:|" * len(variants))
    for name in ENDPOINTS:
        cells = [f"{v.p50_ms[name]:.1f} / {v.p99_ms[name]:.1f}" for v in variants]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if {"package-sync", "peer", "package-async"} <= s.keys():
        lines += ["", "| target (issue 15) | measured | |", "|---|--:|---|"]
        for target, measured, met in targets(s):
            lines.append(f"| {target} | {measured} | {MET if met else MISSED} |")
    if ratios := limit_targets(s):
        lines += ["", "| target (raw-driver limit) | figure | package | limit | ratio | |"]
        lines.append("|---|---|--:|--:|--:|---|")
        for r in ratios:
            lines.append(
                f"| {r.target} | {r.figure} | {r.numerator} {r.numerator_value:,.2f} | "
                f"{r.denominator} {r.denominator_value:,.2f} | {r.ratio:.2f}x | "
                f"{MET if r.met else MISSED} |"
            )
    return "\n".join(lines)


def to_json(s: dict[str, Summary], runs: list[Run]) -> dict[str, Any]:
    return {
        "variants": {
            name: {
                "runs": v.runs,
                "requests": v.requests,
                "requests_per_s": round(v.requests_per_s, 1),
                "p50_ms": {k: round(x, 3) for k, x in v.p50_ms.items()},
                "p99_ms": {k: round(x, 3) for k, x in v.p99_ms.items()},
                "cpu_ms_per_request": {k: round(x, 4) for k, x in v.cpu_ms_per_request.items()},
                "pooler_logins_per_1000_requests": round(v.logins_per_1000, 3),
                "errors": v.errors,
            }
            for name, v in s.items()
        },
        "runs": [{"variant": r.variant, "summary": r.line()} for r in runs],
        "targets": [
            {"target": t, "measured": m, "met": ok} for t, m, ok in targets(s)
        ] if {"package-sync", "peer", "package-async"} <= s.keys() else [],
        "limit_targets": [
            {
                "target": r.target,
                "figure": r.figure,
                "numerator": {"variant": r.numerator, "value": round(r.numerator_value, 4)},
                "denominator": {"variant": r.denominator, "value": round(r.denominator_value, 4)},
                "ratio": round(r.ratio, 3),
                "bound": r.bound,
                "at_least": r.at_least,
                "met": r.met,
            }
            for r in limit_targets(s)
        ],
    }  # fmt: skip


def write_chart(s: dict[str, Summary], path: Path) -> None:
    """Left: requests/s and CPU per request; right: p50 bars with p99 whiskers per endpoint."""
    variants = list(s.values())
    colors = {
        "package-sync": "#3b6ea8",
        "package-async": "#6aa84f",
        "raw": "#c27ba0",
        "peer": "#9a9a9a",
    }
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5), width_ratios=(1, 2))
    names = [v.variant for v in variants]
    left.bar(names, [v.requests_per_s for v in variants],
             color=[colors.get(n, "#cc7a00") for n in names])  # fmt: skip
    left.set_ylabel("requests/s")
    left.set_ylim(0, max(v.requests_per_s for v in variants) * 1.18)  # room for the notes
    for i, v in enumerate(variants):
        note = f"{v.cpu_ms_per_request['total']:.2f} ms CPU/req\n{v.logins_per_1000:.1f} logins/1k"
        left.annotate(note, (i, v.requests_per_s), ha="center", va="bottom", fontsize=8)
    left.set_title("throughput (server CPU per request, pooler logins)", fontsize=9)
    width = 0.8 / len(variants)
    for i, v in enumerate(variants):
        xs = [x + (i - (len(variants) - 1) / 2) * width for x in range(len(ENDPOINTS))]
        p50 = [v.p50_ms[e] for e in ENDPOINTS]
        whiskers = [[0.0] * len(ENDPOINTS), [v.p99_ms[e] - v.p50_ms[e] for e in ENDPOINTS]]
        right.bar(
            xs,
            p50,
            width,
            yerr=whiskers,
            label=f"{v.variant} p50 (whisker: p99)",
            color=colors.get(v.variant, "#cc7a00"),
            error_kw={"elinewidth": 1, "capsize": 2},
        )
    right.set_xticks(range(len(ENDPOINTS)), ENDPOINTS, rotation=20, fontsize=8)
    right.set_ylabel("latency, ms")
    right.set_title("latency per endpoint under load", fontsize=9)
    right.grid(axis="y", alpha=0.3)
    right.legend(fontsize=8)
    save(figure, path)
