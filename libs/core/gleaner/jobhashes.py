"""Many RQ jobs enqueued in one pipeline, without building an RQ Job object per job.

`Queue.enqueue_many` creates, validates and serialises a Job per call (a third of a 10,000-link submit's
CPU). The jobs of one submit differ only in their id, their argument and their meta, so RQ itself makes
the first job of each group; every other job's hash is that one's with those three fields written
again, exactly as RQ would write them. Then one RPUSH per queue. What lands in Redis is what
`enqueue_many` writes for jobs without dependencies (tests/core/test_jobhashes.py compares the two), so
workers, `rq info` and RQ's registries see ordinary jobs.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.client import Pipeline
from rq import Queue
from rq.job import Job, JobStatus
from rq.utils import get_call_string

PER_JOB_FIELDS = ("data", "description", "meta")
"""What differs between two jobs of one group (besides the key): everything else is copied."""


@dataclass(frozen=True)
class JobCall:
    """One job to enqueue: the dotted path it runs, its arguments and its options (RQ's names)."""

    func: str
    args: tuple[Any, ...]
    job_id: str
    meta: dict[str, Any]
    timeout: int | None
    result_ttl: int | None
    failure_ttl: int | None


def push_jobs(pipe: Pipeline, queue: Queue, calls: Sequence[JobCall]) -> list[str]:
    """Write every call's job hash and push their ids on `queue`, in `pipe`; returns the ids."""
    if not calls:
        return []
    templates: dict[tuple[Any, ...], tuple[Job, dict[Any, Any]]] = {}
    for call in calls:
        group = (call.func, call.timeout, call.result_ttl, call.failure_ttl)
        if group not in templates:
            job = _first_job(queue, call)
            templates[group] = (job, job.to_dict())
            mapping = templates[group][1]
        else:
            job, template = templates[group]
            mapping = _job_mapping(job, template, call)
        pipe.hset(Job.key_for(call.job_id), mapping=mapping)
    pipe.sadd(Queue.redis_queues_keys, queue.key)
    ids = [call.job_id for call in calls]
    pipe.rpush(queue.key, *ids)
    return ids


def _first_job(queue: Queue, call: JobCall) -> Job:
    """A job made by RQ, in the state `Queue.enqueue_many` saves it in (origin, enqueued_at, queued)."""
    job = queue.create_job(
        call.func,
        args=call.args,
        job_id=call.job_id,
        meta=call.meta,
        timeout=call.timeout,
        result_ttl=call.result_ttl,
        failure_ttl=call.failure_ttl,
        status=JobStatus.QUEUED,
    )
    job.origin = queue.name
    job.enqueued_at = job.created_at
    return job


def _job_mapping(
    template_job: Job, template: dict[Any, Any], call: JobCall
) -> dict[Any, Any]:
    """The template's hash with this call's data, description and meta, serialised as RQ does."""
    serializer = template_job.serializer
    mapping = {k: v for k, v in template.items() if k not in PER_JOB_FIELDS}
    mapping["data"] = zlib.compress(serializer.dumps((call.func, None, call.args, {})))
    mapping["description"] = get_call_string(call.func, call.args, {}, max_length=75)
    if call.meta:
        mapping["meta"] = serializer.dumps(call.meta)
    return mapping
