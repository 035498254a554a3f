"""A delayed retry survives a Redis that lost it, and still waits for its time (the reconciler's side)."""

from __future__ import annotations

import time

import pytest

from gleaner.runtime import Runtime
from tests.factories import get_task, submit_task
from tests.faults.stack import Processes, RedisServer, wait_until
from tests.parsing.server import PageServer

RETRY_DELAY_SECONDS = 12
"""Well past the reconciler's grace for a queued item it cannot find in Redis (5 s) plus its interval."""


@pytest.mark.slow
def test_a_delayed_retry_lost_with_redis_is_not_run_before_its_time(
    stack_runtime: Runtime,
    procs: Processes,
    fault_redis: RedisServer,
    page_server: PageServer,
) -> None:
    path = "/status/503"  # retryable, every time
    task_id = submit_task(stack_runtime, urls=[page_server.url(path)])
    procs.reconciler()
    procs.worker(
        "parsing", env={"GLEANER_PARSING_RETRY_DELAYS": f"0,{RETRY_DELAY_SECONDS}"}
    )

    def item() -> tuple[str, int]:
        found = get_task(stack_runtime, task_id).items[0]
        return found.status, found.attempts

    try:
        wait_until(lambda: item() == ("queued", 1), 90, "the first attempt to fail")
    except AssertionError:
        raise AssertionError(f"{item()} {page_server.hits}\n{procs.tail()}") from None
    scheduled = time.monotonic()
    fault_redis.restart(
        down_seconds=0.5
    )  # nothing persisted: the scheduled retry is gone
    while time.monotonic() - scheduled < RETRY_DELAY_SECONDS - 2:
        assert page_server.hits[f"path:{path}"] == 1, (
            f"the retry ran early\n{procs.tail()}"
        )
        time.sleep(0.2)
    # not lost either: once due, the reconciler gives it a new job and it runs
    wait_until(
        lambda: page_server.hits[f"path:{path}"] >= 2,
        30,
        f"the retry at its time\n{procs.tail()}",
    )
    assert time.monotonic() - scheduled >= RETRY_DELAY_SECONDS - 1
