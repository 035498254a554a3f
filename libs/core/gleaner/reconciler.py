"""The reconciler: SQL is the truth, and what Redis lost is put back (`python -m gleaner_api reconcile`).

It runs as its own small Deployment, independent of the workers, so it works when a worker type has
zero replicas. A Redis lease makes one replica the leader; the others wait. Every second the leader
moves due delayed retries to their queues (RQ's scheduler, for every stage queue); every
RECONCILE_INTERVAL_SECONDS it compares SQL with Redis:

- an item SQL says is *running* whose worker is gone (its `rq:worker:<name>` key expired — three missed
  heartbeats — or registered its death) or has moved on to another job: its worker died mid-job (SIGKILL,
  OOM, a lost node). The attempt was spent: the item is retried, or fails with its reason once its
  attempts are used up. A worker key merely missing is confirmed on a later pass first, because a
  restarted Redis loses the keys of live workers until their next heartbeat writes them back.
- an item SQL says is *queued* (for longer than DEFAULT_QUEUED_GRACE_SECONDS) whose job Redis does not
  hold — not in its queue, not in the scheduled registry, not held by a live worker — because Redis
  restarted or was flushed, or the enqueue after the commit never happened. It gets a new job; no
  attempt was spent. A delayed retry's `queued_at` is the time it is due, so one that Redis lost is
  re-issued only once due, never early.

Every change is the same guarded UPDATE the workers use, keyed on (id, status, job_id): when a worker
and the reconciler race, exactly one of them moves the item.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import FrameType

import structlog
from redis import Redis
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.scheduler import RQScheduler
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from gleaner import dependencies, items
from gleaner.db import session_scope
from gleaner.models import ItemStatus, TaskItem, utcnow
from gleaner.queues import (
    ALL_QUEUE_NAMES,
    QUEUES,
    ItemJob,
    enqueue_item_jobs,
    retry_delay,
)
from gleaner.runtime import Runtime
from gleaner.settings import Settings, Stage

log = structlog.get_logger("gleaner.reconciler")

DEFAULT_QUEUED_GRACE_SECONDS = 5.0
"""A queued item younger than this may be committed but not yet enqueued: leave it alone."""

DEFAULT_BATCH = 2000
"""Items looked at per kind and pass, oldest first; a larger backlog is covered over several passes."""

LEADER_KEY = "gleaner:reconciler:leader"

_RENEW_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
"""


@dataclass
class Outcome:
    """What one pass did, for the log and the tests."""

    retried: list[int] = field(
        default_factory=list
    )  # running items whose worker died: attempt spent
    failed: list[int] = field(default_factory=list)  # ... and had no attempt left
    reissued: list[int] = field(
        default_factory=list
    )  # queued items Redis had lost: attempt not spent
    released: list[int] = field(
        default_factory=list
    )  # items of waiting tasks whose parents ended (gleaner.dependencies)

    def __bool__(self) -> bool:
        return bool(self.retried or self.failed or self.reissued or self.released)


@dataclass(frozen=True)
class RunningItem:
    id: int
    stage: Stage
    job_id: str | None
    worker_name: str | None
    attempts: int
    error_message: str | None


@dataclass(frozen=True)
class QueuedItem:
    id: int
    stage: Stage
    job_id: str


class Reconciler:
    """One replica's reconciler; `reconcile()` is one pass, `run()` the leader-elected loop."""

    def __init__(self, runtime: Runtime, identity: str | None = None) -> None:
        self.runtime = runtime
        self.settings: Settings = runtime.settings
        self.redis: Redis = runtime.redis
        self.identity = (
            identity or f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:6]}"
        )
        self.suspects: dict[
            int, float
        ] = {}  # item id -> when its worker was first seen missing
        self.scheduler = RQScheduler(list(ALL_QUEUE_NAMES), connection=self.redis)
        self.stop = threading.Event()

    @property
    def confirm_seconds(self) -> float:
        """How long a worker key must stay missing before its items count as lost."""
        return 2.0 * self.settings.WORKER_HEARTBEAT_SECONDS

    # --- leadership ----------------------------------------------------------------------------------
    def is_leader(self) -> bool:
        lease_ms = int(max(3 * self.settings.RECONCILE_INTERVAL_SECONDS, 10.0) * 1000)
        return bool(
            self.redis.eval(_RENEW_LEASE, 1, LEADER_KEY, self.identity, lease_ms)
        )

    def resign(self) -> None:
        try:
            if self.redis.get(LEADER_KEY) == self.identity.encode():
                self.redis.delete(LEADER_KEY)
            self.scheduler.release_locks()  # type: ignore[no-untyped-call]
        except RedisError:
            pass

    # --- the loop ------------------------------------------------------------------------------------
    def run(self) -> None:
        """Until `stop` is set: lead or wait; as leader, schedule every second and reconcile on interval."""
        next_pass = 0.0
        leading = False
        while not self.stop.is_set():
            try:
                leading_now = self.is_leader()
                if leading_now != leading:
                    log.info(
                        "reconciler_leadership",
                        leader=leading_now,
                        identity=self.identity,
                    )
                    leading = leading_now
                    self.suspects.clear()
                if leading:
                    self.move_due_retries()
                    if time.monotonic() >= next_pass:
                        next_pass = (
                            time.monotonic() + self.settings.RECONCILE_INTERVAL_SECONDS
                        )
                        self.reconcile()
            except (
                RedisError,
                SQLAlchemyError,
            ) as exc:  # a dependency is down: try again next tick
                log.warning(
                    "reconciler_pass_failed", error=f"{type(exc).__name__}: {exc}"
                )
            self.stop.wait(1.0)
        self.resign()

    def move_due_retries(self) -> None:
        """RQ's scheduler, in this process: delayed retries reach their queues with no worker running."""
        self.scheduler.acquire_locks()  # type: ignore[no-untyped-call]
        if self.scheduler.acquired_locks:
            self.scheduler.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]

    # --- one pass ------------------------------------------------------------------------------------
    def reconcile(self) -> Outcome:
        outcome = Outcome()
        self.release_waiting(outcome)
        self.recover_running(outcome)
        self.recover_queued(outcome)
        if outcome:
            log.warning(
                "reconciled",
                retried=outcome.retried,
                failed=outcome.failed,
                reissued=outcome.reissued,
                released=outcome.released,
            )
        return outcome

    def release_waiting(self, outcome: Outcome) -> None:
        """Start the waiting tasks whose parents have ended (or cancel them, per their condition)."""
        with session_scope(self.runtime.sessions) as session:
            jobs = dependencies.release_ready(session)
        outcome.released += [job.item_id for job in jobs]
        self.enqueue(jobs)

    def recover_running(self, outcome: Outcome) -> None:
        with session_scope(self.runtime.sessions) as session:
            rows = session.execute(
                select(
                    TaskItem.id,
                    TaskItem.stage,
                    TaskItem.job_id,
                    TaskItem.worker_name,
                    TaskItem.attempts,
                    TaskItem.error_message,
                )
                .where(TaskItem.status == ItemStatus.RUNNING)
                .order_by(TaskItem.started_at)
                .limit(DEFAULT_BATCH)
            ).all()
        items = [RunningItem(*row) for row in rows]  # type: ignore[arg-type]
        workers = self.worker_states(
            {item.worker_name for item in items if item.worker_name}
        )
        now = time.monotonic()
        seen: set[int] = set()
        lost: list[tuple[RunningItem, str]] = []
        for item in items:
            if item.worker_name is None:
                continue  # run outside a worker (eager mode): nothing to check it against
            state = workers[item.worker_name]
            if state.is_missing:
                seen.add(item.id)
                first = self.suspects.setdefault(item.id, now)
                if now - first >= self.confirm_seconds:
                    lost.append(
                        (item, f"its worker {item.worker_name} stopped heartbeating")
                    )
            elif state.is_dead:
                lost.append(
                    (item, f"its worker {item.worker_name} exited while running it")
                )
            elif state.current_job != item.job_id:
                lost.append((item, f"its worker {item.worker_name} left the job"))
        self.suspects = {
            item_id: t for item_id, t in self.suspects.items() if item_id in seen
        }
        follow_ups = [
            job
            for item, why in lost
            if (job := self.recover_one_running(item, why, outcome))
        ]
        self.enqueue(follow_ups)
        for item, _ in lost:
            self.suspects.pop(item.id, None)

    def recover_one_running(
        self, item: RunningItem, why: str, outcome: Outcome
    ) -> ItemJob | None:
        limit = self.settings.max_attempts(item.stage)
        message = f"the job was lost: {why}"
        with session_scope(self.runtime.sessions) as session:
            row = session.get(TaskItem, item.id)
            if row is None:
                return None
            if item.attempts < limit:
                delay = retry_delay(self.settings, item.stage, item.attempts, None)
                again = items.schedule_retry(
                    session,
                    row,
                    item.job_id,
                    "worker_lost",
                    message,
                    delay,
                    outcome="lost",
                )
                if again is None:
                    session.rollback()  # the worker moved it after all; its attempt record is not ours
                    return None
                outcome.retried.append(item.id)
                return self.same_function(again, item.job_id)
            last = (
                f"; the attempt before: {item.error_message}"
                if item.error_message
                else ""
            )
            final = f"{message} (after {item.attempts} attempts){last}"
            if items.fail_item(session, row, item.job_id, "worker_lost", final):
                outcome.failed.append(item.id)
            else:
                session.rollback()
        return None

    def recover_queued(self, outcome: Outcome) -> None:
        cutoff = utcnow() - timedelta(seconds=DEFAULT_QUEUED_GRACE_SECONDS)
        with session_scope(self.runtime.sessions) as session:
            rows = session.execute(
                select(TaskItem.id, TaskItem.stage, TaskItem.job_id)
                .where(
                    TaskItem.status == ItemStatus.QUEUED,
                    TaskItem.queued_at < cutoff,
                    TaskItem.job_id.is_not(None),
                )
                .order_by(TaskItem.queued_at)
                .limit(DEFAULT_BATCH)
            ).all()
        queued = [QueuedItem(*row) for row in rows]  # type: ignore[arg-type]
        if not queued:
            return
        waiting = self.jobs_held(queued)
        follow_ups: list[ItemJob] = []
        for item in queued:
            if item.job_id in waiting:
                continue
            with session_scope(self.runtime.sessions) as session:
                again = items.reissue_item(session, item.id, item.stage, item.job_id)
            if again is not None:
                outcome.reissued.append(item.id)
                follow_ups.append(self.same_function(again, item.job_id))
        self.enqueue(follow_ups)

    # --- what Redis holds ----------------------------------------------------------------------------
    def worker_states(self, names: Iterable[str]) -> dict[str, WorkerState]:
        names = list(names)
        with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hmget(
                    f"rq:worker:{name}", "last_heartbeat", "death", "current_job"
                )
            replies = pipe.execute()
        return {
            name: WorkerState.from_reply(reply)
            for name, reply in zip(names, replies, strict=True)
        }

    def jobs_held(self, items: Sequence[QueuedItem]) -> set[str]:
        """The items' job ids that Redis will still run: queued, scheduled, or held by a live worker."""
        in_queues: set[str] = set()
        for name in ALL_QUEUE_NAMES:
            held_ids: list[bytes] = self.redis.lrange(f"rq:queue:{name}", 0, -1)
            in_queues.update(job.decode() for job in held_ids)
        with self.redis.pipeline(transaction=False) as pipe:
            for item in items:
                pipe.hmget(f"rq:job:{item.job_id}", "status", "origin", "worker_name")
            replies = pipe.execute()
        held: set[str] = set()
        to_check: list[
            tuple[str, str, str]
        ] = []  # (job id, "scheduled"/"started", origin or worker)
        for item, (status, origin, worker) in zip(items, replies, strict=True):
            status = status.decode() if status else None
            if status == "queued" and item.job_id in in_queues:
                held.add(item.job_id)
            elif status == "scheduled" and origin:
                to_check.append((item.job_id, "scheduled", origin.decode()))
            elif status == "started" and worker:
                to_check.append((item.job_id, "started", worker.decode()))
        with self.redis.pipeline(transaction=False) as pipe:
            for job_id, kind, where in to_check:
                if kind == "scheduled":
                    pipe.zscore(f"rq:scheduled:{where}", job_id)
                else:
                    pipe.hmget(
                        f"rq:worker:{where}", "last_heartbeat", "death", "current_job"
                    )
            replies = pipe.execute()
        for (job_id, kind, _), reply in zip(to_check, replies, strict=True):
            if kind == "scheduled" and reply is not None:
                held.add(job_id)
            elif kind == "started" and WorkerState.from_reply(reply).is_running(job_id):
                held.add(
                    job_id
                )  # dequeued, its worker is alive and on it: about to claim the item
        return held

    def same_function(self, job: ItemJob, old_job_id: str | None) -> ItemJob:
        """Keep the function the lost job ran (a custom job path survives); the stage's own otherwise."""
        if old_job_id is None:
            return job
        try:
            func_name = Job.fetch(old_job_id, connection=self.redis).func_name
        except (NoSuchJobError, ValueError, TypeError, AttributeError):
            return job
        if func_name and func_name != QUEUES[job.stage].job_path:
            return ItemJob(
                job.item_id,
                job.task_id,
                job.stage,
                job.job_id,
                job.priority,
                job.delay,
                func_name,
            )
        return job

    def enqueue(self, jobs: list[ItemJob]) -> None:
        if jobs:
            enqueue_item_jobs(self.redis, self.settings, jobs)


@dataclass(frozen=True)
class WorkerState:
    """What `rq:worker:<name>` says about a worker: gone, dead, or alive on some job."""

    is_missing: bool
    is_dead: bool
    current_job: str | None

    @classmethod
    def from_reply(cls, reply: Sequence[bytes | None]) -> WorkerState:
        heartbeat, death, current = reply
        return cls(
            is_missing=heartbeat is None and death is None and current is None,
            is_dead=death is not None,
            current_job=current.decode() if current else None,
        )

    def is_running(self, job_id: str) -> bool:
        return not self.is_missing and not self.is_dead and self.current_job == job_id


def run(settings: Settings) -> int:
    """`python -m gleaner_api reconcile`: the reconciler Deployment's process (PID 1-safe)."""
    runtime = Runtime.start(settings)
    reconciler = Reconciler(runtime)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("reconciler_stopping", signal=signal.Signals(signum).name)
        reconciler.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "reconciler_starting",
        identity=reconciler.identity,
        interval=settings.RECONCILE_INTERVAL_SECONDS,
        heartbeat=settings.WORKER_HEARTBEAT_SECONDS,
    )
    try:
        reconciler.run()
    finally:
        runtime.close()
    return 0
