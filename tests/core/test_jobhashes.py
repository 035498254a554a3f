"""Jobs written by gleaner.jobhashes are the jobs RQ's own enqueue_many writes, and workers run them."""

from __future__ import annotations

from typing import cast

import pytest
from redis import Redis
from redis.exceptions import ResponseError
from rq import Queue
from rq.job import Job, JobStatus

from gleaner.jobhashes import JobCall, execute_atomically, job_commands, push_jobs

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


@pytest.mark.parametrize("way", ["pipeline", "packed"])
def test_pushed_jobs_match_what_enqueue_many_writes(redis: Redis, way: str) -> None:
    ours = Queue("ours", connection=redis)
    theirs = Queue("theirs", connection=redis)
    calls = [_call(f"ours-{i}", i) for i in range(3)]
    if way == "pipeline":  # push_jobs, where RQ's own calls join the same pipeline
        with redis.pipeline() as pipe:
            assert push_jobs(pipe, ours, calls) == ["ours-0", "ours-1", "ours-2"]
            pipe.execute()
    else:  # job_commands sent by execute_atomically, as every submit does
        ids, commands = job_commands(ours, calls)
        assert ids == ["ours-0", "ours-1", "ours-2"]
        execute_atomically(redis, commands)
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


def test_a_refused_command_leaves_nothing_written(redis: Redis) -> None:
    _, commands = job_commands(Queue("ours", connection=redis), [_call("ours-0", 0)])
    with pytest.raises(ResponseError):
        execute_atomically(redis, [*commands, ("HSET", "rq:job:broken")])
    assert redis.keys("*") == []
    # the connection went back to the pool clean: the next calls read their own replies
    assert redis.ping()
    assert execute_atomically(redis, [("SET", "a", "1"), ("INCR", "a")]) == [b"OK", 2]
