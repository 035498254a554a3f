"""The reconciler against real workers, a real Redis and real SQL: what it recovers, and what it leaves alone."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from redis import Redis
from rq.job import Job
from sqlalchemy import select, update

from gleaner.db import session_scope
from gleaner.models import ItemAttempt, TaskItem, utcnow
from gleaner.queues import QUEUES, ItemJob, enqueue_item_jobs
from gleaner.reconciler import LEADER_KEY, Reconciler
from gleaner.runtime import Runtime
from gleaner.settings import Settings
from tests.conftest import StartWorker
from tests.factories import get_task, submit_task

FAST = {"GLEANER_WORKER_HEARTBEAT_SECONDS": "1", "GLEANER_WORKER_CONCURRENCY": "1"}


@pytest.fixture
def fast_env(
    test_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    for key, value in FAST.items():
        monkeypatch.setenv(key, value)
        test_env[key] = value
    return test_env


@pytest.fixture
def reconciler(fast_env: dict[str, str], runtime: Runtime) -> Reconciler:
    # The reconciler reads the heartbeat period from its own settings, as its Deployment would.
    runtime.settings = Settings()
    return Reconciler(runtime)


def wait_for(condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def item_of(runtime: Runtime, task_id: int) -> TaskItem:
    return get_task(runtime, task_id).items[0]


def attempts(
    runtime: Runtime, item_id: int
) -> list[tuple[int, str | None, str | None]]:
    with session_scope(runtime.sessions) as session:
        rows = session.scalars(
            select(ItemAttempt)
            .where(ItemAttempt.item_id == item_id)
            .order_by(ItemAttempt.id)
        )
        return [(a.number, a.outcome, a.error_code) for a in rows]


def queued_ids(redis: Redis) -> list[str]:
    raw: list[bytes] = redis.lrange("rq:queue:parsing", 0, -1)
    return [job_id.decode() for job_id in raw]


def age_queued_items(runtime: Runtime, seconds: float = 60) -> None:
    """Make queued items look older than the grace period (test set-up: the clock, not the code)."""
    with session_scope(runtime.sessions) as session:
        session.execute(
            update(TaskItem).values(queued_at=utcnow() - timedelta(seconds=seconds))
        )


def reconcile_until(
    reconciler: Reconciler, kind: str, item_id: int, timeout: float = 20.0
) -> None:
    found: list[int] = []

    def passed() -> bool:
        found.extend(getattr(reconciler.reconcile(), kind))
        return item_id in found

    wait_for(passed, timeout)


class TestDeadWorker:
    def test_item_of_a_killed_worker_is_retried_with_its_attempt_spent(
        self, runtime: Runtime, reconciler: Reconciler, start_worker: StartWorker
    ) -> None:
        task_id = submit_task(
            runtime,
            urls=["https://example.com/a"],
            job_path="tests.jobs.sleep_configured",
            config={"sleep_seconds": 30},
        )
        worker = start_worker("parsing")
        wait_for(lambda: item_of(runtime, task_id).status == "running")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        item_id = item_of(runtime, task_id).id
        assert (
            not reconciler.reconcile()
        )  # the key is still alive: a worker is not dead on one look
        reconcile_until(reconciler, "retried", item_id)
        item = item_of(runtime, task_id)
        assert (item.status, item.attempts, item.error_code) == (
            "queued",
            1,
            "worker_lost",
        )
        assert attempts(runtime, item_id) == [(1, "lost", "worker_lost")]
        # the retry runs the function the lost job ran, and a new worker finishes it
        (job_id,) = queued_ids(runtime.redis)
        assert (
            Job.fetch(job_id, connection=runtime.redis).func_name
            == "tests.jobs.sleep_configured"
        )

    def test_item_fails_with_its_reason_when_attempts_are_used_up(
        self,
        runtime: Runtime,
        reconciler: Reconciler,
        start_worker: StartWorker,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("GLEANER_PARSING_MAX_ATTEMPTS", "1")
        runtime.settings = reconciler.settings = Settings()
        task_id = submit_task(
            runtime,
            urls=["https://example.com/a"],
            job_path="tests.jobs.sleep_configured",
            config={"sleep_seconds": 30},
        )
        worker = start_worker("parsing", env={"GLEANER_PARSING_MAX_ATTEMPTS": "1"})
        wait_for(lambda: item_of(runtime, task_id).status == "running")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        reconcile_until(reconciler, "failed", item_of(runtime, task_id).id)
        task = get_task(runtime, task_id)
        item = task.items[0]
        assert (task.status, task.failed_items) == ("failed", 1)
        assert item.error_code == "worker_lost"
        assert "stopped heartbeating" in (item.error_message or "")
        assert "after 1 attempts" in (item.error_message or "")

    def test_live_busy_worker_is_left_alone(
        self, runtime: Runtime, reconciler: Reconciler, start_worker: StartWorker
    ) -> None:
        task_id = submit_task(
            runtime,
            urls=["https://example.com/a"],
            job_path="tests.jobs.sleep_configured",
            config={"sleep_seconds": 4},
        )
        worker = start_worker("parsing")
        wait_for(lambda: item_of(runtime, task_id).status == "running")
        deadline = (
            time.monotonic() + 3.5
        )  # longer than the heartbeat TTL (3 s): beats keep it alive
        while time.monotonic() < deadline:
            assert not reconciler.reconcile()
            time.sleep(0.5)
        wait_for(lambda: item_of(runtime, task_id).status == "completed")
        assert item_of(runtime, task_id).attempts == 1
        assert worker.poll() is None


class TestLostQueuedJob:
    def test_item_redis_lost_is_reissued_without_an_attempt(
        self, runtime: Runtime, reconciler: Reconciler, redis: Redis
    ) -> None:
        task_id = submit_task(
            runtime,
            urls=["https://example.com/a", "https://example.com/b"],
            job_path="tests.jobs.succeed",
        )
        redis.flushdb()  # Redis restarted empty
        assert (
            not reconciler.reconcile()
        )  # within the grace period: maybe just not enqueued yet
        age_queued_items(runtime)
        outcome = reconciler.reconcile()
        assert sorted(outcome.reissued) == sorted(
            i.id for i in get_task(runtime, task_id).items
        )
        items = get_task(runtime, task_id).items
        assert all((i.status, i.attempts) == ("queued", 0) for i in items)
        # Redis forgot which function the lost jobs ran: the new ones run the stage's own job
        queued = [Job.fetch(job_id, connection=redis) for job_id in queued_ids(redis)]
        assert sorted(job.id for job in queued) == sorted(str(i.job_id) for i in items)
        assert {job.func_name for job in queued} == {QUEUES["parsing"].job_path}

    def test_job_dequeued_by_a_worker_that_died_before_claiming(
        self, runtime: Runtime, reconciler: Reconciler, redis: Redis
    ) -> None:
        task_id = submit_task(
            runtime, urls=["https://example.com/a"], job_path="tests.jobs.succeed"
        )
        assert redis.lpop(
            "rq:queue:parsing"
        )  # popped; the popper never lived to run it
        age_queued_items(runtime)
        outcome = reconciler.reconcile()
        assert outcome.reissued == [item_of(runtime, task_id).id]
        assert redis.llen("rq:queue:parsing") == 1

    def test_waiting_and_scheduled_jobs_are_left_alone(
        self, runtime: Runtime, reconciler: Reconciler, redis: Redis
    ) -> None:
        waiting = submit_task(
            runtime, urls=["https://example.com/a"], job_path="tests.jobs.succeed"
        )
        delayed = submit_task(
            runtime, urls=["https://example.com/b"], job_path="tests.jobs.succeed"
        )
        item = item_of(runtime, delayed)
        redis.delete("rq:queue:parsing")
        enqueue_item_jobs(
            redis,
            runtime.settings,
            [ItemJob(item.id, delayed, "parsing", str(item.job_id), delay=600)],
        )
        first = item_of(runtime, waiting).id
        redis.rpush("rq:queue:parsing", str(item_of(runtime, waiting).job_id))
        age_queued_items(runtime)
        assert not reconciler.reconcile(), (
            f"nothing is lost (item {first} waits, {item.id} is scheduled)"
        )

    def test_delayed_retry_moves_to_its_queue_with_no_worker(
        self, runtime: Runtime, reconciler: Reconciler, redis: Redis
    ) -> None:
        task_id = submit_task(
            runtime, urls=["https://example.com/a"], job_path="tests.jobs.succeed"
        )
        item = item_of(runtime, task_id)
        redis.delete("rq:queue:parsing")
        enqueue_item_jobs(
            redis,
            runtime.settings,
            [ItemJob(item.id, task_id, "parsing", str(item.job_id), delay=1)],
        )
        assert redis.llen("rq:queue:parsing") == 0

        def moved() -> bool:
            reconciler.move_due_retries()
            return bool(redis.llen("rq:queue:parsing") == 1)

        wait_for(moved, 10)


class TestLeadership:
    def test_one_leader_at_a_time(
        self, runtime: Runtime, reconciler: Reconciler, redis: Redis
    ) -> None:
        other = Reconciler(runtime, identity="other")
        assert reconciler.is_leader()
        assert not other.is_leader()
        assert reconciler.is_leader()  # renewing its own lease
        reconciler.resign()
        assert other.is_leader()
        assert redis.get(LEADER_KEY) == b"other"
