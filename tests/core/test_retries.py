"""Retry strategies per stage: the defaults are the first version's; exponential backoff with jitter
and a cap; only the listed error codes retry — checked with real worker processes."""

from __future__ import annotations

import time

import pytest
from rq.registry import ScheduledJobRegistry

from gleaner.queues import rq_queue
from gleaner.retries import RetryStrategy
from gleaner.runtime import Runtime
from gleaner.settings import Settings
from tests.conftest import RunWorker
from tests.factories import get_task, submit_task


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


class TestStrategy:
    def test_defaults_are_todays(self) -> None:
        strategy = RetryStrategy.of(Settings(_env_file=None), "ai")
        assert (strategy.max_attempts, strategy.backoff, strategy.retry_on) == (
            3,
            "fixed",
            (),
        )
        assert [strategy.delay(n) for n in (0, 1, 2, 3)] == [0, 30, 300, 300]
        assert strategy.retries("http_503")
        assert strategy.delay(1, retry_after=90) == 90  # Retry-After is honoured

    def test_exponential_with_jitter_and_cap(self) -> None:
        strategy = RetryStrategy(
            max_attempts=10,
            backoff="exponential",
            delays=(0,),
            base_seconds=10,
            max_seconds=60,
            jitter=0.5,
            retry_on=("http_429",),
        )
        for _ in range(50):
            assert 5 <= strategy.delay(1) <= 10
            assert 10 <= strategy.delay(2) <= 20
            assert 30 <= strategy.delay(6) <= 60  # 320 s capped at 60, minus jitter
        assert strategy.retries("http_429")
        assert not strategy.retries("http_503")


class TestWorkersFollowTheStrategy:
    @pytest.mark.parametrize(
        ("retry_on", "outcome"),
        [
            ("http_429,timeout", ("failed", 1, "http_503")),
            ("http_503", ("completed", 3, None)),
        ],
        ids=["an-unlisted-code-fails-at-once", "a-listed-code-is-retried"],
    )
    def test_only_the_listed_codes_retry(
        self,
        runtime: Runtime,
        run_worker: RunWorker,
        retry_on: str,
        outcome: tuple[str, int, str | None],
    ) -> None:
        task_id = submit_task(
            runtime,
            urls=["https://example.com/a"],
            job_path="tests.jobs.fail_twice_then_succeed",
        )
        run_worker("parsing", env={"GLEANER_PARSING_RETRY_ON": retry_on})
        item = get_task(runtime, task_id).items[0]
        assert (item.status, item.attempts, item.error_code) == outcome

    def test_exponential_backoff_schedules_the_retry(
        self, runtime: Runtime, run_worker: RunWorker
    ) -> None:
        task_id = submit_task(
            runtime,
            urls=["https://example.com/a"],
            job_path="tests.jobs.fail_twice_then_succeed",
        )
        before = time.time()
        run_worker(
            "parsing",
            env={
                "GLEANER_PARSING_RETRY_BACKOFF": "exponential",
                "GLEANER_PARSING_RETRY_BASE_SECONDS": "100",
                "GLEANER_PARSING_RETRY_JITTER": "0.5",
            },
        )
        item = get_task(runtime, task_id).items[0]
        assert (item.status, item.attempts, item.error_code) == (
            "queued",
            1,
            "http_503",
        )
        registry = ScheduledJobRegistry(queue=rq_queue(runtime.redis, "parsing"))  # type: ignore[no-untyped-call]
        assert item.job_id is not None
        assert registry.get_job_ids() == [item.job_id]
        due = registry.get_scheduled_time(item.job_id).timestamp()
        assert before + 50 - 1 <= due <= time.time() + 100
