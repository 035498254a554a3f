"""RQ's own `rq info` shows every lane and every worker thread of a fresh deployment."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from redis import Redis
from rq import Worker

from gleaner.queues import ALL_QUEUE_NAMES, register_lanes
from tests.conftest import StartWorker

THREADS = 3


def test_rq_info_lists_every_lane_and_worker(
    redis: Redis, redis_url: str, start_worker: StartWorker
) -> None:
    register_lanes(redis)  # what the API does at start
    start_worker("ai", env={"GLEANER_WORKER_CONCURRENCY": str(THREADS)})
    deadline = time.monotonic() + 120
    while len(Worker.all(connection=redis)) < THREADS:
        assert time.monotonic() < deadline, "the worker threads did not register"
        time.sleep(0.2)

    rq = Path(sys.executable).with_name("rq")
    shown = subprocess.run(
        [str(rq), "info", "--url", redis_url],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert re.search(rf"^{len(ALL_QUEUE_NAMES)} queues, 0 jobs total$", shown, re.M), (
        shown
    )
    assert re.search(
        rf"^{THREADS} workers, {len(ALL_QUEUE_NAMES)} queues$", shown, re.M
    ), shown
    for lane in ALL_QUEUE_NAMES:
        assert re.search(rf"^{re.escape(lane)}\s+\|", shown, re.M), (lane, shown)
    # each thread is listed as a worker of its three lanes
    assert len(re.findall(r"\): idle ai-high, ai, ai-low\. jobs:", shown)) == THREADS, (
        shown
    )
