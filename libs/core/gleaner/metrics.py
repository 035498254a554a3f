"""Prometheus metrics: names prefixed gleaner_, base units, bounded labels (stage, outcome, code, …).

Process metrics live in prometheus-client's default registry; the queue-depth collector (registered by
the API and by each worker's metrics endpoint) reads Redis at scrape time.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ITEMS = Counter(
    "gleaner_stage_items_total",
    "Items that finished an attempt at a stage, by outcome (completed, retry, failed, cancelled, requeued).",
    ["stage", "outcome"],
)
ITEM_DURATION = Histogram(
    "gleaner_stage_duration_seconds",
    "Seconds one attempt at a stage took inside the worker.",
    ["stage"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
QUEUE_WAIT = Histogram(
    "gleaner_stage_queue_wait_seconds",
    "Seconds an item waited in its queue before a worker started it.",
    ["stage"],
    buckets=(0.01, 0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 3600),
)
ATTEMPTS = Histogram(
    "gleaner_stage_attempt_number",
    "Which attempt an item was on when an attempt finished (1 = first try).",
    ["stage"],
    buckets=(1, 2, 3, 5, 10),
)


def observe_item(stage: str, outcome: str, seconds: float, attempt: int) -> None:
    ITEMS.labels(stage, outcome).inc()
    ITEM_DURATION.labels(stage).observe(seconds)
    ATTEMPTS.labels(stage).observe(attempt)


def observe_queue_wait(stage: str, seconds: float | None) -> None:
    if seconds is not None:
        QUEUE_WAIT.labels(stage).observe(max(0.0, seconds))
