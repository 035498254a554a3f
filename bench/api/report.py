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


ROWS: list[tuple[str, Callable[[Any], float], int]] = [
    ("submit 10,000 links → 202 (s)", lambda f: f.submit_s, 2),
    ("submit: API CPU (s)", lambda f: f.submit_cpu_s, 2),
    ("status default: p50 (ms)", lambda f: f.status["default"].p50_ms, 1),
    ("status default: p99 (ms)", lambda f: f.status["default"].p99_ms, 1),
    ("status default: failed or timed out", lambda f: f.status["default"].failed, 0),
    (
        "status default: bytes per answer",
        lambda f: f.status["default"].bytes_per_answer,
        0,
    ),
    (
        "status default: API CPU per answer (ms)",
        lambda f: f.status_cpu_ms["default"],
        2,
    ),
    ("status no items: p50 (ms)", lambda f: f.status["no_items"].p50_ms, 1),
    ("status no items: p99 (ms)", lambda f: f.status["no_items"].p99_ms, 1),
    ("status no items: failed or timed out", lambda f: f.status["no_items"].failed, 0),
    (
        "status no items: API CPU per answer (ms)",
        lambda f: f.status_cpu_ms["no_items"],
        2,
    ),
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
        header = " | ".join(codes) + (
            " | this ÷ baseline" if "baseline" in codes else ""
        )
        print(f"\n### {database}\n\n| figure | {header} |")
        print("|---" * (2 + len(codes) - 1 + ("baseline" in codes)) + "|")
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
                ratio = (
                    medians["this"] / base
                    if base and not math.isnan(base)
                    else float("nan")
                )
                cells.append(_fmt(ratio, 3))
            print(f"| {label} | " + " | ".join(cells) + " |")
