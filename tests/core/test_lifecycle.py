"""The item and task lifecycle with real worker processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import select, update

from gleaner import tasks
from gleaner.db import session_scope
from gleaner.models import ItemAttempt, ProcessingTask, TaskItem
from gleaner.queues import cancel_jobs, enqueue_item_jobs
from gleaner.runtime import Runtime
from gleaner.settings import Settings
from tests.conftest import RunWorker, StartWorker
from tests.factories import get_task, submit_task

URLS = [f"https://example.com/{i}" for i in range(3)]


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


def attempts_of(runtime: Runtime, task_id: int) -> list[ItemAttempt]:
    with session_scope(runtime.sessions) as session:
        return list(
            session.scalars(
                select(ItemAttempt)
                .join(TaskItem)
                .where(TaskItem.task_id == task_id)
                .order_by(ItemAttempt.id)
            )
        )


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


class TestOutcomes:
    def test_success_completes_task(
        self, runtime: Runtime, run_worker: RunWorker
    ) -> None:
        task_id = submit_task(runtime, urls=URLS, job_path="tests.jobs.succeed")
        run_worker("parsing")
        task = get_task(runtime, task_id)
        assert (
            task.status,
            task.completed_items,
            task.failed_items,
            task.progress,
        ) == ("completed", 3, 0, 100)
        assert all(
            item.status == "completed" and item.attempts == 1 for item in task.items
        )
        assert task.started_at is not None
        assert task.completed_at is not None

    def test_retry_then_success(self, runtime: Runtime, run_worker: RunWorker) -> None:
        task_id = submit_task(
            runtime, urls=URLS[:1], job_path="tests.jobs.fail_twice_then_succeed"
        )
        run_worker("parsing")
        task = get_task(runtime, task_id)
        assert task.status == "completed"
        assert task.items[0].attempts == 3
        assert [a.outcome for a in attempts_of(runtime, task_id)] == [
            "retry",
            "retry",
            "completed",
        ]
        assert attempts_of(runtime, task_id)[0].error_code == "http_503"

    def test_retries_stop_at_max_attempts(
        self, runtime: Runtime, run_worker: RunWorker
    ) -> None:
        task_id = submit_task(
            runtime, urls=URLS[:1], job_path="tests.jobs.fail_twice_then_succeed"
        )
        run_worker("parsing", env={"GLEANER_PARSING_MAX_ATTEMPTS": "2"})
        item = get_task(runtime, task_id).items[0]
        assert (item.status, item.attempts, item.error_code) == (
            "failed",
            2,
            "http_503",
        )
        assert "after 2 attempts" in (item.error_message or "")

    def test_permanent_failure_fails_at_once(
        self, runtime: Runtime, run_worker: RunWorker, redis: Redis
    ) -> None:
        task_id = submit_task(
            runtime, urls=URLS[:2], job_path="tests.jobs.fail_permanently"
        )
        run_worker("parsing")
        task = get_task(runtime, task_id)
        assert (task.status, task.failed_items) == ("failed", 2)
        assert all(i.attempts == 1 and i.error_code == "http_404" for i in task.items)
        assert (
            Queue("parsing", connection=redis).failed_job_registry.count == 2
        )  # RQ's view agrees

    def test_timeout_is_retryable_and_reported(
        self, runtime: Runtime, run_worker: RunWorker, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The timeout travels with the job (set at enqueue), so the submitter's settings carry it.
        monkeypatch.setenv("GLEANER_PARSING_TIMEOUT", "1")
        monkeypatch.setenv("GLEANER_PARSING_MAX_ATTEMPTS", "2")
        short = Runtime.start(Settings())
        task_id = submit_task(
            short, urls=URLS[:1], job_path="tests.jobs.sleep_past_timeout"
        )
        short.close()
        run_worker("parsing")
        item = get_task(runtime, task_id).items[0]
        assert (item.status, item.error_code, item.attempts) == ("failed", "timeout", 2)

    def test_mixed_outcomes_are_partially_failed(
        self, runtime: Runtime, run_worker: RunWorker
    ) -> None:
        urls = [
            "https://example.com/ok/1",
            "https://example.com/bad",
            "https://example.com/ok/2",
        ]
        task_id = submit_task(runtime, urls=urls, job_path="tests.jobs.fail_bad_links")
        run_worker("parsing")
        task = get_task(runtime, task_id)
        assert (task.status, task.completed_items, task.failed_items) == (
            "partially_failed",
            2,
            1,
        )
        assert [i.status for i in task.items] == ["completed", "failed", "completed"]


class TestIdempotency:
    def test_duplicate_delivery_has_one_effect(
        self, runtime: Runtime, run_worker: RunWorker, redis: Redis
    ) -> None:
        task_id = submit_task(
            runtime, urls=URLS[:1], job_path="tests.jobs.count_effect"
        )
        item = get_task(runtime, task_id).items[0]
        # deliver the same job a second time, as a re-enqueue after a lost acknowledgement would
        assert item.job_id is not None
        redis.rpush("rq:queue:parsing", item.job_id)
        run_worker("parsing")
        assert int(redis.get(f"test:effects:{item.id}") or 0) == 1
        task = get_task(runtime, task_id)
        assert (task.completed_items, task.items[0].attempts) == (1, 1)

    def test_job_for_a_finished_item_does_nothing(
        self, runtime: Runtime, run_worker: RunWorker, redis: Redis
    ) -> None:
        task_id = submit_task(
            runtime, urls=URLS[:1], job_path="tests.jobs.count_effect"
        )
        run_worker("parsing")
        item = get_task(runtime, task_id).items[0]
        enqueue_item_jobs(runtime.redis, runtime.settings, [])
        Queue("parsing", connection=redis).enqueue(
            "tests.jobs.count_effect", item.id, job_id=item.job_id
        )
        run_worker("parsing")
        assert int(redis.get(f"test:effects:{item.id}") or 0) == 1
        assert get_task(runtime, task_id).completed_items == 1


class TestConcurrency:
    def test_three_workers_lose_no_count(
        self, runtime: Runtime, test_env: dict[str, str], tmp_path: Path
    ) -> None:
        import os
        import sys

        from tests.conftest import ROOT, _process_env

        urls = [f"https://example.com/many/{i}" for i in range(60)]
        task_id = submit_task(runtime, urls=urls, job_path="tests.jobs.count_effect")
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "gleaner_parsing", "--burst"],
                env=_process_env(test_env, None),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=open(tmp_path / f"w{n}.log", "wb"),
            )
            for n in range(3)
        ]
        for worker in workers:
            assert worker.wait(120) == 0, (tmp_path / "w0.log").read_text()[-3000:]
        task = get_task(runtime, task_id)
        assert (task.status, task.completed_items, task.failed_items) == (
            "completed",
            60,
            0,
        )
        assert sum(1 for i in task.items if i.status == "completed") == 60
        assert (
            os.environ.get("GLEANER_DATABASE_URL") == test_env["GLEANER_DATABASE_URL"]
        )


class TestCancelAndRetry:
    def test_cancel_while_queued_removes_jobs(
        self, runtime: Runtime, run_worker: RunWorker, redis: Redis
    ) -> None:
        task_id = submit_task(runtime, urls=URLS, job_path="tests.jobs.count_effect")
        with session_scope(runtime.sessions) as session:
            task = session.get_one(ProcessingTask, task_id)
            unfinished = tasks.cancel_task(session, task)
        cancel_jobs(redis, task_id, [i.job_id for i in unfinished if i.job_id])
        assert redis.llen("rq:queue:parsing") == 0
        run_worker("parsing")
        task = get_task(runtime, task_id)
        assert (task.status, task.cancelled_items) == ("cancelled", 3)
        assert all(i.status == "cancelled" for i in task.items)
        assert not redis.keys("test:effects:*")

    def test_cancel_while_running_stops_at_checkpoint(
        self, runtime: Runtime, start_worker: StartWorker, redis: Redis
    ) -> None:
        task_id = submit_task(
            runtime, urls=URLS[:1], job_path="tests.jobs.slow_with_checkpoints"
        )
        worker = start_worker("parsing")
        wait_for(lambda: get_task(runtime, task_id).items[0].status == "running")
        with session_scope(runtime.sessions) as session:
            unfinished = tasks.cancel_task(
                session, session.get_one(ProcessingTask, task_id)
            )
        cancel_jobs(redis, task_id, [i.job_id for i in unfinished if i.job_id])
        wait_for(
            lambda: [a.outcome for a in attempts_of(runtime, task_id)] == ["cancelled"]
        )
        task = get_task(runtime, task_id)
        assert (task.status, task.cancelled_items, task.completed_items) == (
            "cancelled",
            1,
            0,
        )
        assert worker.poll() is None  # the worker keeps serving

    def test_retry_failed_only(
        self, runtime: Runtime, run_worker: RunWorker, redis: Redis
    ) -> None:
        ok = submit_task(runtime, urls=URLS[:2], job_path="tests.jobs.succeed")
        run_worker("parsing")
        with session_scope(runtime.sessions) as session:
            # one item of the task failed for good earlier
            item = session.scalars(
                select(TaskItem).where(TaskItem.task_id == ok)
            ).first()
            assert item is not None
            session.execute(
                update(TaskItem)
                .where(TaskItem.id == item.id)
                .values(status="failed", error_code="http_503", error_message="x")
            )
            session.execute(
                update(ProcessingTask)
                .where(ProcessingTask.id == ok)
                .values(completed_items=1, failed_items=1, status="partially_failed")
            )
            jobs = tasks.retry_failed(session, session.get_one(ProcessingTask, ok))
        assert len(jobs) == 1
        jobs = [
            j.__class__(**{**j.__dict__, "job_path": "tests.jobs.count_effect"})
            for j in jobs
        ]
        enqueue_item_jobs(redis, runtime.settings, jobs)
        run_worker("parsing")
        task = get_task(runtime, ok)
        assert (
            task.status,
            task.completed_items,
            task.failed_items,
            task.retry_count,
        ) == ("completed", 2, 0, 1)
        assert (
            int(redis.get(f"test:effects:{item.id}") or 0) == 1
        )  # only the failed item ran again
        # the retried job ran to completion (a finished stage job keeps no hash in Redis: SQL has it)
        with session_scope(runtime.sessions) as session:
            outcomes = session.scalars(
                select(ItemAttempt.outcome).where(ItemAttempt.job_id == jobs[0].job_id)
            ).all()
        assert outcomes == ["completed"]
        assert not Job.exists(jobs[0].job_id, connection=redis)
