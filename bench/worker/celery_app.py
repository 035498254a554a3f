"""Celery on the same Redis, running the same job functions, for comparison only."""

from __future__ import annotations

import os

from celery import Celery  # type: ignore[import-untyped]

from bench.worker import jobs

app = Celery(
    "bench", broker=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
)
app.conf.update(
    task_ignore_result=True,
    task_time_limit=60,  # the job timeout stays enforced, as for RQ
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


@app.task(name="bench.noop")  # type: ignore[untyped-decorator]
def noop() -> None:
    jobs.noop()


@app.task(name="bench.wait_io")  # type: ignore[untyped-decorator]
def wait_io() -> None:
    jobs.wait_io()
