"""The benchmark's jobs, shared by every worker design: each counts itself done in Redis."""

from __future__ import annotations

import os
import time

from redis import Redis

COUNTER = "bench:done"
_client: Redis | None = None


def _redis() -> Redis:
    global _client
    if _client is None:
        _client = Redis.from_url(os.environ["BENCH_REDIS_URL"])
    return _client


def noop() -> None:
    """No work at all: what a job costs the worker itself (plus one INCR to be counted)."""
    _redis().incr(COUNTER)


def wait_io() -> None:
    """A job that waits 50 ms on IO (a fetch, an API call) and does nothing else."""
    time.sleep(0.05)
    _redis().incr(COUNTER)
