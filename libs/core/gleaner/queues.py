"""The three stage queues: names, the job each runs (by dotted path), timeouts and retry policy.

The API enqueues by dotted path, so it never imports worker code. Each stage has a high-priority lane
that its workers drain first. Retry delays and attempt limits are data here, read from Settings.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis import Redis
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from gleaner import tracing
from gleaner.settings import Settings, Stage

PIPELINE_STAGES: tuple[Stage, ...] = ("parsing", "ai", "notion")

DEFAULT_RESULT_TTL = 3600
"""Seconds RQ keeps a finished job's hash (what rq-dashboard shows as finished)."""

DEFAULT_FAILURE_TTL = 7 * 24 * 3600
"""Seconds RQ keeps a failed job in its failed registry; SQL keeps the item's reason for good."""

CANCEL_KEY = "gleaner:task:{task_id}:cancelled"
"""Redis flag set when a task is cancelled, so a running job's checkpoints need not query SQL."""

CANCEL_FLAG_TTL = 7 * 24 * 3600


@dataclass(frozen=True)
class QueueSpec:
    stage: Stage
    name: str  # RQ queue name, Redis list rq:queue:<name>
    high_name: str  # the high-priority lane, drained first
    job_path: (
        str  # dotted path of the job function, imported only by the stage's worker
    )


QUEUES: dict[Stage, QueueSpec] = {
    "parsing": QueueSpec(
        "parsing", "parsing", "parsing-high", "gleaner_parsing.jobs.parse_item"
    ),
    "ai": QueueSpec("ai", "ai", "ai-high", "gleaner_ai.jobs.process_item"),
    "notion": QueueSpec(
        "notion", "notion", "notion-high", "gleaner_notion.jobs.import_item"
    ),
}

ALL_QUEUE_NAMES: tuple[str, ...] = tuple(
    name for spec in QUEUES.values() for name in (spec.high_name, spec.name)
)


def as_stage(name: str) -> Stage:
    """A stage name read back from SQL, checked."""
    if name not in QUEUES:
        raise ValueError(f"unknown stage {name!r}")
    return name


def next_stage(stages: Sequence[str], stage: str) -> Stage | None:
    """The stage after `stage` in a task's list, or None when it was the last."""
    index = list(stages).index(stage)
    return stages[index + 1] if index + 1 < len(stages) else None  # type: ignore[return-value]


def retry_delay(
    settings: Settings, stage: Stage, attempts_done: int, retry_after: float | None
) -> float:
    """Seconds to wait before the next attempt: the queue's delay for it, or longer if told to wait."""
    delays = settings.retry_delays(stage) or [0]
    delay = float(delays[min(attempts_done, len(delays) - 1)])
    return max(delay, retry_after or 0.0)


def new_job_id(stage: str, item_id: int) -> str:
    return f"{stage}-{item_id}-{uuid.uuid4().hex[:12]}"


def rq_queue(redis: Redis, name: str, *, is_async: bool = True) -> Queue:
    return Queue(name, connection=redis, is_async=is_async)


def worker_queues(redis: Redis, stage: Stage) -> list[Queue]:
    """What a stage's worker listens to, in the order it drains them: high lane first."""
    spec = QUEUES[stage]
    return [rq_queue(redis, spec.high_name), rq_queue(redis, spec.name)]


@dataclass(frozen=True)
class ItemJob:
    """One item to hand to a stage's queue."""

    item_id: int
    task_id: int
    stage: Stage
    job_id: str
    high_priority: bool = False
    delay: float = 0.0
    job_path: str | None = (
        None  # None: the stage's job; tests pass their own importable job
    )
    trace: str | None = (
        None  # the item's root traceparent, when the enqueue starts its trace (tracing)
    )


def enqueue_item_jobs(
    redis: Redis, settings: Settings, jobs: Iterable[ItemJob]
) -> list[Job]:
    """Enqueue many item jobs in one pipelined round trip; delayed ones go to RQ's scheduled registry.

    In eager mode (development only) each job runs here, synchronously, before this returns.
    """
    jobs = list(jobs)
    created: list[Job] = []
    if settings.EAGER:
        for job in jobs:
            queue = rq_queue(redis, _queue_name(job), is_async=False)
            created.append(
                queue.enqueue_call(
                    job.job_path or QUEUES[job.stage].job_path,
                    args=(job.item_id,),
                    **_job_options(settings, job),
                )
            )
        return created
    by_queue: dict[str, list[ItemJob]] = {}
    for job in jobs:
        by_queue.setdefault(_queue_name(job), []).append(job)
    with redis.pipeline() as pipe:
        for queue_name, group in by_queue.items():
            queue = rq_queue(redis, queue_name)
            now = [
                Queue.prepare_data(
                    job.job_path or QUEUES[job.stage].job_path,
                    args=(job.item_id,),
                    **_job_options(settings, job),
                )
                for job in group
                if job.delay <= 0
            ]
            if now:
                created += queue.enqueue_many(now, pipeline=pipe)
            for job in group:
                if job.delay > 0:
                    created.append(
                        queue.enqueue_in(
                            timedelta(seconds=job.delay),
                            job.job_path or QUEUES[job.stage].job_path,
                            job.item_id,
                            pipeline=pipe,
                            **_job_options(settings, job, timeout_key="job_timeout"),
                        )
                    )
        pipe.execute()
    return created


def _queue_name(job: ItemJob) -> str:
    spec = QUEUES[job.stage]
    return spec.high_name if job.high_priority else spec.name


def _job_options(
    settings: Settings, job: ItemJob, timeout_key: str = "timeout"
) -> dict[str, Any]:
    # prepare_data and enqueue_call call the job timeout "timeout"; enqueue_in calls it "job_timeout".
    return {
        "job_id": job.job_id,
        timeout_key: settings.timeout(job.stage),
        "result_ttl": DEFAULT_RESULT_TTL,
        "failure_ttl": DEFAULT_FAILURE_TTL,
        "meta": {
            "task_id": job.task_id,
            "item_id": job.item_id,
            # tracing: the enqueue's span context, which the job's run continues
            **tracing.publish_meta(
                _queue_name(job), job.job_id, job.item_id, job.trace, job.delay
            ),
        },
    }


def cancel_jobs(redis: Redis, task_id: int, job_ids: Iterable[str]) -> None:
    """Raise the task's cancel flag and take its waiting jobs out of Redis."""
    redis.set(CANCEL_KEY.format(task_id=task_id), 1, ex=CANCEL_FLAG_TTL)
    for job_id in job_ids:
        try:
            Job.fetch(job_id, connection=redis).cancel()
        except (NoSuchJobError, InvalidJobOperation):
            continue  # gone already, or running: its checkpoint and guarded writes handle it


def clear_cancel_flag(redis: Redis, task_id: int) -> None:
    redis.delete(CANCEL_KEY.format(task_id=task_id))
