"""Jobs written by gleaner.jobhashes are the jobs RQ's own enqueue_many writes, and workers run them."""

from __future__ import annotations

from typing import cast

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

from gleaner.jobhashes import JobCall, push_jobs

FUNC = "tests.jobs.succeed"
TIMESTAMPS = {b"created_at", b"enqueued_at"}


def _call(job_id: str, item: int) -> JobCall:
    return JobCall(
        func=FUNC,
        args=(item,),
        job_id=job_id,
        meta={"task_id": 7, "item_id": item},
        timeout=60,
        result_ttl=0,
        failure_ttl=900,
    )


def _stored(redis: Redis, job_id: str) -> dict[bytes, bytes]:
    stored = cast(dict[bytes, bytes], redis.hgetall(Job.key_for(job_id)))
    return {k: v for k, v in stored.items() if k not in TIMESTAMPS}


def test_pushed_jobs_match_what_enqueue_many_writes(redis: Redis) -> None:
    ours = Queue("ours", connection=redis)
    theirs = Queue("theirs", connection=redis)
    calls = [_call(f"ours-{i}", i) for i in range(3)]
    with redis.pipeline() as pipe:
        assert push_jobs(pipe, ours, calls) == ["ours-0", "ours-1", "ours-2"]
        pipe.execute()
    theirs.enqueue_many(
        [
            Queue.prepare_data(
                FUNC,
                args=(i,),
                job_id=f"theirs-{i}",
                meta={"task_id": 7, "item_id": i},
                timeout=60,
                result_ttl=0,
                failure_ttl=900,
            )
            for i in range(3)
        ]
    )
    for i in range(3):
        mine, rqs = _stored(redis, f"ours-{i}"), _stored(redis, f"theirs-{i}")
        assert mine.pop(b"origin") == b"ours"
        assert rqs.pop(b"origin") == b"theirs"
        assert mine == rqs, i
        job = Job.fetch(f"ours-{i}", connection=redis)
        assert (job.func_name, job.args, job.meta["item_id"]) == (FUNC, (i,), i)
        assert job.get_status() == JobStatus.QUEUED
    assert ours.job_ids == ["ours-0", "ours-1", "ours-2"]
    assert {q.name for q in Queue.all(connection=redis)} >= {"ours", "theirs"}
