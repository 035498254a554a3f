"""Dramatiq, the peer: the same two jobs as actors on a Redis broker, default middleware.

dramatiq bench.worker.dramatiq_app --processes 1 --threads 8
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.worker import jobs

broker = RedisBroker(url=os.environ["BENCH_REDIS_URL"])  # type: ignore[no-untyped-call]
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="bench", max_retries=0)
def noop() -> None:
    jobs.noop()


@dramatiq.actor(queue_name="bench", max_retries=0)
def wait_io() -> None:
    jobs.wait_io()
