"""The benchmark's jobs, shared by every worker design: each counts itself done in Redis (one INCR).

`noop` and `wait_io` are bare RQ jobs (what the worker loop alone costs); `stage_noop` and `stage_io` run
through the whole job runner (`gleaner.execution.execute_item`: claim, body, complete, the next stage's
enqueue), which is what every real item pays before its own work.
"""

from __future__ import annotations

import os
import time
from typing import Any

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


def _count(ctx: Any) -> dict[str, Any]:
    ctx.runtime.redis.incr(COUNTER)
    return {}


def _wait_and_count(ctx: Any) -> dict[str, Any]:
    time.sleep(0.05)
    ctx.runtime.redis.incr(COUNTER)
    return {}


def stage_noop(item_id: int) -> dict[str, Any]:
    """A parsing-stage job whose body does nothing: the runner's own cost per item."""
    from gleaner.execution import execute_item

    return execute_item("parsing", item_id, _count)


def stage_io(item_id: int) -> dict[str, Any]:
    """A parsing-stage job whose body waits 50 ms on IO."""
    from gleaner.execution import execute_item

    return execute_item("parsing", item_id, _wait_and_count)
