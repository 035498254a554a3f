"""The queue-depth collector against a real Redis, real RQ registries and a real worker process."""

from __future__ import annotations

import time
from collections.abc import Callable
from subprocess import CompletedProcess, Popen

from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from gleaner.metrics import QueueDepth, exposition, make_registry, read_queue_depths
from gleaner.queues import ItemJob, enqueue_item_jobs, new_job_id, rq_queue
from gleaner.runtime import Runtime
from gleaner.settings import Settings
from tests.factories import submit_task
from tests.servers import free_port


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def wait_until(
    read: Callable[[], QueueDepth],
    done: Callable[[QueueDepth], bool],
    timeout: float = 30,
) -> QueueDepth:
    deadline = time.monotonic() + timeout
    while True:
        depth = read()
        if done(depth) or time.monotonic() > deadline:
            return depth
        time.sleep(0.1)


class TestReadQueueDepths:
    def test_empty_queues_are_zero(self, redis: Redis) -> None:
        assert read_queue_depths(redis) == {
            stage: QueueDepth(0, 0, 0, 0, 0.0, 0)
            for stage in ("parsing", "ai", "notion")
        }

    def test_both_lanes_are_summed_and_the_oldest_age_comes_from_enqueued_at(
        self, redis: Redis
    ) -> None:
        oldest = rq_queue(redis, "ai").enqueue("tests.jobs.succeed", 1)
        rq_queue(redis, "ai").enqueue("tests.jobs.succeed", 2)
        rq_queue(redis, "ai-high").enqueue("tests.jobs.succeed", 3)
        assert oldest.enqueued_at is not None
        depths = read_queue_depths(redis, now=oldest.enqueued_at.timestamp() + 100)
        assert depths["ai"].waiting == 3
        assert depths["ai"].backlog == 3
        assert abs(depths["ai"].oldest_age_seconds - 100) < 1e-3
        assert depths["parsing"].waiting == 0

    def test_a_dangling_job_id_does_not_hide_the_next_jobs_age(
        self, redis: Redis
    ) -> None:
        # A job hash can expire or be deleted while its id is still listed.
        redis.rpush("rq:queue:notion", "gone")
        job = rq_queue(redis, "notion").enqueue("tests.jobs.succeed", 1)
        assert job.enqueued_at is not None
        depth = read_queue_depths(redis, now=job.enqueued_at.timestamp() + 5)["notion"]
        assert depth.waiting == 2
        assert abs(depth.oldest_age_seconds - 5) < 1e-3

    def test_retry_delays_are_scheduled_not_waiting(self, runtime: Runtime) -> None:
        jobs = [
            ItemJob(
                item_id=n,
                task_id=1,
                stage="parsing",
                job_id=new_job_id("parsing", n),
                delay=300,
            )
            for n in (1, 2)
        ]
        enqueue_item_jobs(runtime.redis, runtime.settings, jobs)
        depth = read_queue_depths(runtime.redis)["parsing"]
        assert (depth.waiting, depth.scheduled, depth.backlog) == (0, 2, 0)

    def test_failed_jobs_are_counted(
        self, runtime: Runtime, run_worker: Callable[..., CompletedProcess[str]]
    ) -> None:
        submit_task(
            runtime,
            urls=["https://example.com/404"],
            job_path="tests.jobs.fail_permanently",
        )
        run_worker("parsing")
        depth = read_queue_depths(runtime.redis)["parsing"]
        assert (depth.waiting, depth.running, depth.failed) == (0, 0, 1)

    def test_running_jobs_count_in_the_backlog(
        self, runtime: Runtime, start_worker: Callable[..., Popen[bytes]]
    ) -> None:
        submit_task(
            runtime,
            urls=[f"https://example.com/{n}" for n in range(3)],
            config={"sleep_seconds": 5},
            job_path="tests.jobs.sleep_configured",
        )
        start_worker("parsing", env={"GLEANER_WORKER_CONCURRENCY": "1"})  # one job slot
        depth = wait_until(
            lambda: read_queue_depths(runtime.redis)["parsing"],
            lambda d: d.running == 1,
        )
        assert (depth.waiting, depth.running, depth.backlog, depth.workers) == (
            2,
            1,
            3,
            1,
        )

    def test_an_abandoned_started_entry_is_not_running(self, redis: Redis) -> None:
        # RQ scores started entries by expiry; a worker killed mid-job leaves one that has expired.
        redis.zadd(
            "rq:wip:parsing",
            {
                "job-1:execution-1": time.time() - 60,
                "job-2:execution-2": time.time() + 60,
            },
        )
        assert read_queue_depths(redis)["parsing"].running == 1


class TestExposition:
    def test_registry_exports_every_queue_state_and_the_limits(
        self, redis: Redis, settings: Settings
    ) -> None:
        rq_queue(redis, "parsing").enqueue("tests.jobs.succeed", 1)
        body, content_type = exposition(make_registry(redis, settings))
        got = samples(body)
        assert content_type.startswith("text/plain")
        assert got[("gleaner_queue_up", ())] == 1
        assert got[("gleaner_queue_backlog_jobs", (("queue", "parsing"),))] == 1
        assert (
            got[("gleaner_queue_jobs", (("queue", "parsing"), ("state", "waiting")))]
            == 1
        )
        for stage in ("parsing", "ai", "notion"):
            for state in ("waiting", "running", "scheduled", "failed"):
                assert (
                    "gleaner_queue_jobs",
                    (("queue", stage), ("state", state)),
                ) in got
            assert got[
                ("gleaner_queue_job_timeout_seconds", (("queue", stage),))
            ] == settings.timeout(stage)
        assert (
            got[("gleaner_ratelimit_budget_per_second", (("bucket", "notion"),))]
            == settings.NOTION_REQUESTS_PER_SECOND
        )
        # the process's own metrics come along
        assert any(
            name.startswith("process_") or name.startswith("python_") for name, _ in got
        )

    def test_redis_down_still_answers_the_scrape(self, settings: Settings) -> None:
        gone = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
        body, _ = exposition(make_registry(gone, settings))
        got = samples(body)
        assert got[("gleaner_queue_up", ())] == 0
        # absent, not 0: an autoscaler keeps its size instead of scaling to the floor
        assert not [
            name
            for name, _ in got
            if name in ("gleaner_queue_jobs", "gleaner_queue_backlog_jobs")
        ]
