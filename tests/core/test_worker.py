"""The worker process: threads that are real RQ workers, short heartbeats, timeouts, warm SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable

import pytest
from redis import Redis
from rq import Worker
from sqlalchemy import select

from gleaner.db import session_scope
from gleaner.models import ItemAttempt, TaskItem
from gleaner.runtime import Runtime
from gleaner.settings import Settings
from tests.conftest import RunWorker, StartWorker
from tests.factories import get_task, submit_task

FAST = {"GLEANER_WORKER_HEARTBEAT_SECONDS": "1"}


def wait_for(condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def statuses(runtime: Runtime, task_id: int) -> list[str]:
    return [
        item.status
        for item in sorted(get_task(runtime, task_id).items, key=lambda i: i.id)
    ]


def attempt_outcomes(runtime: Runtime, task_id: int) -> list[str | None]:
    with session_scope(runtime.sessions) as session:
        return list(
            session.scalars(
                select(ItemAttempt.outcome)
                .join(TaskItem)
                .where(TaskItem.task_id == task_id)
                .order_by(ItemAttempt.id)
            )
        )


def sleeping_task(runtime: Runtime, seconds: float, count: int = 1) -> int:
    urls = [f"https://example.com/{n}" for n in range(count)]
    return submit_task(
        runtime,
        urls=urls,
        job_path="tests.jobs.sleep_configured",
        config={"sleep_seconds": seconds},
    )


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout)


class TestThreads:
    def test_each_thread_is_a_registered_rq_worker_with_a_short_ttl(
        self, start_worker: StartWorker, redis: Redis
    ) -> None:
        process = start_worker(
            "parsing",
            env={**FAST, "GLEANER_WORKER_CONCURRENCY": "3"},
            args=("--name", "w"),
        )
        wait_for(lambda: len(Worker.all(connection=redis)) == 3)
        workers = Worker.all(connection=redis)
        assert all(w.name.startswith("w.") for w in workers)
        assert {q for w in workers for q in w.queue_names()} == {
            "parsing-high",
            "parsing",
            "parsing-low",
        }
        assert all(0 < redis.ttl(w.key) <= 3 for w in workers)  # three beats of 1 s
        assert stop(process) == 0
        assert Worker.all(connection=redis) == []  # each registered its death

    def test_jobs_overlap_across_threads(
        self, runtime: Runtime, start_worker: StartWorker
    ) -> None:
        task_id = sleeping_task(runtime, 1.0, count=4)
        process = start_worker(
            "parsing", env={**FAST, "GLEANER_WORKER_CONCURRENCY": "4"}
        )
        wait_for(lambda: get_task(runtime, task_id).status == "completed")
        items = get_task(runtime, task_id).items
        # every item started before another one finished: they ran at the same time
        starts = [i.started_at for i in items if i.started_at]
        ends = [i.completed_at for i in items if i.completed_at]
        assert max(starts) < min(ends)
        assert len({i.worker_name for i in items}) == 4
        assert stop(process) == 0

    def test_job_timeout_is_enforced_in_a_thread(
        self, runtime: Runtime, run_worker: RunWorker, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(
            "GLEANER_PARSING_TIMEOUT", "1"
        )  # the job carries its timeout from the enqueue
        runtime.settings = Settings()
        task_id = submit_task(
            runtime,
            urls=["https://example.com/t"],
            job_path="tests.jobs.sleep_past_timeout",
        )
        run_worker(
            "parsing",
            env={"GLEANER_PARSING_TIMEOUT": "1", "GLEANER_PARSING_MAX_ATTEMPTS": "1"},
        )
        (item,) = get_task(runtime, task_id).items
        assert (item.status, item.error_code) == ("failed", "timeout")

    def test_registration_comes_back_after_redis_loses_it(
        self, start_worker: StartWorker, redis: Redis
    ) -> None:
        process = start_worker(
            "parsing", env={**FAST, "GLEANER_WORKER_CONCURRENCY": "2"}
        )
        wait_for(lambda: len(Worker.all(connection=redis)) == 2)
        names = sorted(w.name for w in Worker.all(connection=redis))
        redis.flushdb()  # what a Redis restart without persistence does
        wait_for(
            lambda: sorted(w.name for w in Worker.all(connection=redis)) == names, 10
        )
        assert stop(process) == 0


class TestSigterm:
    def test_running_job_finishes_and_nothing_new_starts(
        self, runtime: Runtime, start_worker: StartWorker
    ) -> None:
        task_id = sleeping_task(runtime, 1.5, count=2)
        process = start_worker(
            "parsing", env={**FAST, "GLEANER_WORKER_CONCURRENCY": "1"}
        )
        wait_for(lambda: "running" in statuses(runtime, task_id))
        assert stop(process) == 0
        assert sorted(statuses(runtime, task_id)) == ["completed", "queued"]
        queued = next(
            i for i in get_task(runtime, task_id).items if i.status == "queued"
        )
        assert queued.attempts == 0
        assert (
            runtime.redis.llen("rq:queue:parsing") == 1
        )  # still waiting for the next worker

    def test_job_past_the_grace_period_is_requeued_without_an_attempt(
        self, runtime: Runtime, start_worker: StartWorker
    ) -> None:
        task_id = sleeping_task(runtime, 30)
        env = {
            **FAST,
            "GLEANER_WORKER_CONCURRENCY": "1",
            "GLEANER_WORKER_SHUTDOWN_GRACE_SECONDS": "0.5",
        }
        process = start_worker("parsing", env=env)
        wait_for(lambda: statuses(runtime, task_id) == ["running"])
        assert stop(process) == 0
        (item,) = get_task(runtime, task_id).items
        assert (item.status, item.attempts) == ("queued", 0)
        assert attempt_outcomes(runtime, task_id) == ["requeued"]
        assert runtime.redis.llen("rq:queue:parsing") == 1

    @pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT])
    def test_second_signal_stops_the_job_at_once(
        self, runtime: Runtime, start_worker: StartWorker, second: signal.Signals
    ) -> None:
        task_id = sleeping_task(runtime, 30)
        env = {
            **FAST,
            "GLEANER_WORKER_CONCURRENCY": "1",
            "GLEANER_WORKER_SHUTDOWN_GRACE_SECONDS": "600",
        }
        process = start_worker("parsing", env=env)
        wait_for(lambda: statuses(runtime, task_id) == ["running"])
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        process.send_signal(second)
        assert process.wait(20) == 0
        (item,) = get_task(runtime, task_id).items
        assert (item.status, item.attempts) == ("queued", 0)
