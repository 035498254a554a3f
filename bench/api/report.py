"""bench.api.run's table: medians over rounds per code and database, and this ÷ baseline ratios."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

GOALS = {"submit_s": 1.0, "status_p99_ms": 25.0}


def _median(values: Sequence[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return statistics.median(kept) if kept else float("nan")


def _fmt(value: float, digits: int = 1) -> str:
    return "–" if math.isnan(value) else f"{value:,.{digits}f}"


PHASES = {
    "default": "status default",
    "no_items": "status no items",
    "limit": "status items_limit",
}


def _phase_rows(phase: str, name: str) -> list[tuple[str, Callable[[Any], float], int]]:
    return [
        (f"{name}: answers received", lambda f: f.status[phase].ok, 0),
        (f"{name}: p50 from due time (ms)", lambda f: f.status[phase].p50_ms, 1),
        (f"{name}: p99 from due time (ms)", lambda f: f.status[phase].p99_ms, 1),
        (f"{name}: failed or timed out", lambda f: f.status[phase].failed, 0),
        (f"{name}: bytes per answer", lambda f: f.status[phase].bytes_per_answer, 0),
        (f"{name}: API CPU per answer (ms)", lambda f: f.status_cpu_ms[phase], 2),
        (
            f"{name}: load generator CPU per request (ms)",
            lambda f: f.client_cpu_ms[phase],
            2,
        ),
    ]


ROWS: list[tuple[str, Callable[[Any], float], int]] = [
    ("submit 10,000 links → 202 (s)", lambda f: f.submit_s, 2),
    ("submit: API CPU (s)", lambda f: f.submit_cpu_s, 2),
    *(row for phase, name in PHASES.items() for row in _phase_rows(phase, name)),
    ("GET /api/tasks?page_size=50, median (ms)", lambda f: f.list_ms, 1),
    ("Redis per 10,000 queued items (MB)", lambda f: f.redis_in_flight_mb, 1),
    ("Redis per 10,000 failed items (MB)", lambda f: f.redis_failed_mb, 1),
    ("load average (1 min) at the submit", lambda f: f.load, 1),
]


def _value(figures: Any, pick: Callable[[Any], float]) -> float:
    try:
        return float(pick(figures))
    except (KeyError, AttributeError):
        return float("nan")


def print_report(results: Sequence[Any], rate: float, seconds: float) -> None:
    databases = list(dict.fromkeys(f.database for f in results))
    codes = list(dict.fromkeys(f.code for f in results))
    print(
        f"\nmedians over {len({id(f) for f in results}) // max(1, len(codes) * len(databases))} round(s); "
        f"status load: {rate:.0f} req/s for {seconds:.0f} s, open loop"
    )
    for database in databases:
        ours = [c for c in codes if c != "baseline"]
        ratios = [f"{c} ÷ baseline" for c in ours] if "baseline" in codes else []
        header = " | ".join([*codes, *ratios])
        print(f"\n### {database}\n\n| figure | {header} |")
        print("|---" * (1 + len(codes) + len(ratios)) + "|")
        for label, pick, digits in ROWS:
            medians = {
                code: _median(
                    [
                        _value(f, pick)
                        for f in results
                        if f.code == code and f.database == database
                    ]
                )
                for code in codes
            }
            cells = [_fmt(medians[c], digits) for c in codes]
            if "baseline" in codes:
                base = medians["baseline"]
                for code in ours:
                    ratio = (
                        medians[code] / base
                        if base and not math.isnan(base)
                        else float("nan")
                    )
                    cells.append(_fmt(ratio, 3))
            print(f"| {label} | " + " | ".join(cells) + " |")
