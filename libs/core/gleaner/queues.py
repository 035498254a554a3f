"""The three stage queues: names, the job each runs (by dotted path), timeouts and retry policy.

The API enqueues by dotted path, so it never imports worker code. Each stage has three lanes, one RQ
queue each: `<stage>-high`, `<stage>` (normal) and `<stage>-low`, drained in that order, with a
starvation guard for the low lane (LaneOrder). Retry delays and attempt limits are data here, read from
Settings (gleaner.retries).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from redis import Redis
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from gleaner import tracing
from gleaner.jobhashes import (
    Command,
    JobCall,
    execute_atomically,
    job_commands,
    push_jobs,
)
from gleaner.retries import RetryStrategy
from gleaner.settings import Settings, Stage

Priority = Literal["high", "normal", "low"]
PRIORITIES: tuple[Priority, ...] = ("high", "normal", "low")
"""The lanes of every stage, in the order workers drain them."""

PIPELINE_STAGES: tuple[Stage, ...] = ("parsing", "ai", "notion")

DEFAULT_RESULT_TTL = 0
"""Seconds RQ keeps a finished stage job's hash: none, SQL keeps every result (the item, its attempts);
a finished job is deleted in the same pipeline that files it, instead of being stored and expired."""

CANCEL_KEY = "gleaner:task:{task_id}:cancelled"
"""Redis flag set when a task is cancelled, so a running job's checkpoints need not query SQL."""

CANCEL_FLAG_TTL = 7 * 24 * 3600


@dataclass(frozen=True)
class QueueSpec:
    stage: Stage
    name: str  # the normal lane's RQ queue name (Redis list rq:queue:<name>), and the stage's label
    job_path: (
        str  # dotted path of the job function, imported only by the stage's worker
    )

    def lane(self, priority: Priority) -> str:
        """The RQ queue of one lane: `<name>-high`, `<name>`, `<name>-low`."""
        return self.name if priority == "normal" else f"{self.name}-{priority}"

    @property
    def lanes(self) -> tuple[str, ...]:
        """Every lane's queue name, in drain order (high first)."""
        return tuple(self.lane(priority) for priority in PRIORITIES)

    @property
    def high_name(self) -> str:
        return self.lane("high")

    @property
    def low_name(self) -> str:
        return self.lane("low")


QUEUES: dict[Stage, QueueSpec] = {
    "parsing": QueueSpec("parsing", "parsing", "gleaner_parsing.jobs.parse_item"),
    "ai": QueueSpec("ai", "ai", "gleaner_ai.jobs.process_item"),
    "notion": QueueSpec("notion", "notion", "gleaner_notion.jobs.import_item"),
}

FEED_JOB_PATH = "gleaner_parsing.feeds.fetch_feed"
"""A feed schedule's fetch (gleaner.feeds), run by the parsing worker on the parsing stage's high lane:
its guarded fetcher, and ahead of a page backlog that would otherwise make the firing late."""

ALL_QUEUE_NAMES: tuple[str, ...] = tuple(
    name for spec in QUEUES.values() for name in spec.lanes
)


def task_priority(config: dict[str, Any]) -> Priority:
    """A task's lane, from its config (tasks made before three lanes stored `high_priority`)."""
    given = config.get("priority")
    if given in PRIORITIES:
        return given  # type: ignore[no-any-return]
    return "high" if config.get("high_priority") else "normal"


class LaneOrder:
    """The order one worker looks at a stage's lanes: high, normal, low — with a starvation guard.

    Strict priority would leave the low lane waiting for as long as higher lanes have work. So after
    `every - 1` jobs in a row from the higher lanes, the low lane is looked at first once: while it has
    work, at least one job in `every` is a low one (WORKER_LOW_LANE_EVERY). An empty low lane costs
    nothing (the next lane answers the same pop), and the count starts again after each low job.
    """

    def __init__(self, lanes: Sequence[Any], every: int) -> None:
        self.lanes = list(
            lanes
        )  # RQ queues (anything with .name) in drain order, low last
        self.every = every
        self.since_low = 0

    def after_dequeue(self, lane_name: str) -> list[Any]:
        """The order for the next dequeue, after one job came from `lane_name`."""
        low = self.lanes[-1]
        self.since_low = 0 if lane_name == low.name else self.since_low + 1
        if self.since_low >= self.every - 1:
            return [low, *self.lanes[:-1]]
        return list(self.lanes)


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
    """Seconds to wait before the next attempt: the stage's strategy, or longer if told to wait."""
    return RetryStrategy.of(settings, stage).delay(attempts_done, retry_after)


def new_job_id(stage: str, item_id: int) -> str:
    return f"{stage}-{item_id}-{uuid.uuid4().hex[:12]}"


def new_job_ids(stage: str, item_ids: Sequence[int]) -> list[str]:
    """new_job_id for many items: the same form (12 random hex digits each), one urandom call."""
    digits = os.urandom(6 * len(item_ids)).hex()
    return [
        f"{stage}-{item_id}-{digits[12 * n : 12 * n + 12]}"
        for n, item_id in enumerate(item_ids)
    ]


def rq_queue(redis: Redis, name: str, *, is_async: bool = True) -> Queue:
    return Queue(name, connection=redis, is_async=is_async)


def register_lanes(redis: Redis, names: Sequence[str] = ALL_QUEUE_NAMES) -> None:
    """Put lanes in RQ's set of queues, which a queue otherwise joins only with its first job:
    `rq info` and rq-dashboard list only those queues, and only the workers of listed queues."""
    prefix = Queue.redis_queue_namespace_prefix
    redis.sadd(Queue.redis_queues_keys, *(f"{prefix}{name}" for name in names))


def worker_queues(redis: Redis, stage: Stage) -> list[Queue]:
    """What a stage's worker listens to, in the order it drains them: high lane first, low last."""
    register_lanes(redis, QUEUES[stage].lanes)  # listed by RQ's tools from the start
    return [rq_queue(redis, name) for name in QUEUES[stage].lanes]


@dataclass(frozen=True)
class ItemJob:
    """One item to hand to a stage's queue."""

    item_id: int
    task_id: int
    stage: Stage
    job_id: str
    priority: Priority = "normal"
    delay: float = 0.0
    job_path: str | None = (
        None  # None: the stage's job; tests pass their own importable job
    )
    trace: str | None = (
        None  # the item's root traceparent, when the enqueue starts its trace (tracing)
    )


def enqueue_item_jobs(
    redis: Redis, settings: Settings, jobs: Iterable[ItemJob]
) -> list[str]:
    """Enqueue many item jobs in one pipelined round trip; delayed ones go to RQ's scheduled registry.

    Returns the job ids. In eager mode (development only) each job runs here, synchronously, before
    this returns.
    """
    jobs = list(jobs)
    created: list[str] = []
    if settings.EAGER:
        for job in jobs:
            queue = rq_queue(redis, _queue_name(job), is_async=False)
            created.append(
                queue.enqueue_call(
                    job.job_path or QUEUES[job.stage].job_path,
                    args=(job.item_id,),
                    **_job_options(settings, job),
                ).id
            )
        return created
    by_queue: dict[str, list[ItemJob]] = {}
    for job in jobs:
        by_queue.setdefault(_queue_name(job), []).append(job)
    if all(job.delay <= 0 for job in jobs):
        # the usual case (every submit): the commands are packed by hiredis and sent at once
        commands: list[Command] = []
        for queue_name, group in by_queue.items():
            calls = [_job_call(settings, job) for job in group]
            ids, queue_commands = job_commands(rq_queue(redis, queue_name), calls)
            created += ids
            commands += queue_commands
        execute_atomically(redis, commands)
        return created
    with redis.pipeline() as pipe:
        for queue_name, group in by_queue.items():
            queue = rq_queue(redis, queue_name)
            now = [_job_call(settings, job) for job in group if job.delay <= 0]
            created += push_jobs(pipe, queue, now)
            for job in group:
                if job.delay > 0:
                    created.append(
                        queue.enqueue_in(
                            timedelta(seconds=job.delay),
                            job.job_path or QUEUES[job.stage].job_path,
                            job.item_id,
                            pipeline=pipe,
                            **_job_options(settings, job, timeout_key="job_timeout"),
                        ).id
                    )
        pipe.execute()
    return created


def _job_call(settings: Settings, job: ItemJob) -> JobCall:
    return JobCall(
        func=job.job_path or QUEUES[job.stage].job_path,
        args=(job.item_id,),
        job_id=job.job_id,
        meta=_job_meta(job),
        timeout=settings.timeout(job.stage),
        result_ttl=DEFAULT_RESULT_TTL,
        failure_ttl=settings.JOB_FAILURE_TTL_SECONDS,
    )


def enqueue_feed_fetch(redis: Redis, settings: Settings, firing_id: int) -> Job:
    """Queue the fetch of a feed firing (runs here, at once, in eager mode)."""
    queue = rq_queue(redis, QUEUES["parsing"].high_name, is_async=not settings.EAGER)
    return queue.enqueue_call(
        FEED_JOB_PATH,
        args=(firing_id,),
        job_id=f"feed-{firing_id}",
        timeout=settings.timeout("parsing"),
        result_ttl=DEFAULT_RESULT_TTL,
        failure_ttl=settings.JOB_FAILURE_TTL_SECONDS,
        meta={"firing_id": firing_id},
    )


def _queue_name(job: ItemJob) -> str:
    return QUEUES[job.stage].lane(job.priority)


def _job_options(
    settings: Settings, job: ItemJob, timeout_key: str = "timeout"
) -> dict[str, Any]:
    # prepare_data and enqueue_call call the job timeout "timeout"; enqueue_in calls it "job_timeout".
    return {
        "job_id": job.job_id,
        timeout_key: settings.timeout(job.stage),
        "result_ttl": DEFAULT_RESULT_TTL,
        # SQL keeps every attempt's error (ItemAttempt); Redis keeps a failed job (and its
        # traceback, ~5 KB) only long enough to look at it with RQ's tools.
        "failure_ttl": settings.JOB_FAILURE_TTL_SECONDS,
        "meta": _job_meta(job),
    }


def _job_meta(job: ItemJob) -> dict[str, Any]:
    return {
        "task_id": job.task_id,
        "item_id": job.item_id,
        # tracing: the enqueue's span context, which the job's run continues
        **tracing.publish_meta(
            _queue_name(job), job.job_id, job.item_id, job.trace, job.delay
        ),
    }


def cancel_jobs(redis: Redis, task_id: int, job_ids: Iterable[str]) -> None:
    """Raise the task's cancel flag and take its waiting jobs out of Redis."""
    redis.set(CANCEL_KEY.format(task_id=task_id), 1, ex=CANCEL_FLAG_TTL)
    for job_id in job_ids:
        try:
            Job.fetch(job_id, connection=redis).cancel()
        except (NoSuchJobError, InvalidJobOperation):
            continue  # gone already, or running: its checkpoint and guarded writes handle it
        except ValueError:
            # RQ 2.12 raises this when the job's execution ended between the fetch and the cancel
            # ("Execution … not found in Redis"): the job is no longer waiting, nothing to take out.
            continue


def clear_cancel_flag(redis: Redis, task_id: int) -> None:
    redis.delete(CANCEL_KEY.format(task_id=task_id))
