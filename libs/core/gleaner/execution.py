"""How a stage's job runs one item: claim it, run the stage body, record the outcome, enqueue what follows.

A worker's `jobs.py` is one line per stage: `execute_item("parsing", item_id, parse_body)`. The body
reads its input through the context, does its work and sets the stage's output on the item
(`ctx.item.parsed_content_id = …`). Everything else — idempotency, attempts, retry delays, failure
reasons, cancellation, the next stage's enqueue after commit — happens here, the same for every stage.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar

import structlog
from rq import get_current_job
from rq.timeouts import JobTimeoutException
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gleaner import items, metrics, progress, tracing
from gleaner.db import session_scope
from gleaner.errors import Cancelled, PermanentError, RetryableError, ShuttingDown
from gleaner.models import ProcessingTask, TaskItem, TaskStatus
from gleaner.queues import CANCEL_KEY, ItemJob, enqueue_item_jobs, retry_delay
from gleaner.retries import RetryStrategy
from gleaner.runtime import Runtime, current
from gleaner.settings import Stage

log = structlog.get_logger("gleaner.execution")

shutdown_requested = threading.Event()
"""Set by the worker on SIGTERM when the running job cannot finish within the grace period."""


class JobFailed(Exception):
    """Raised after an item's failure is recorded, so RQ files the job in its failed registry too."""


CANCEL_CHECK_SECONDS = 0.5
"""A checkpoint asks Redis whether the task was cancelled at most this often (ItemContext.checkpoint).
A parsing job of a fast page makes three checkpoints within ~20 ms of its claim: one look at most,
instead of three round trips (bench/parsing/RESULTS.md)."""


@dataclass
class ItemContext:
    """What a stage body gets: the open session, its item and task, and a way to stop early."""

    runtime: Runtime
    session: Session
    item: TaskItem
    task: ProcessingTask
    job_id: str | None
    attempt: int
    log: Any = field(default=None)
    cancel_checked_at: float = field(default_factory=time.monotonic)
    """When the task's cancellation was last looked at: the claim read its status a moment ago."""

    @property
    def settings(self) -> Any:
        return self.runtime.settings

    def checkpoint(self) -> None:
        """Stop here if the task was cancelled or the worker must shut down; cheap enough to call often.

        Redis is asked about a cancellation at most every CANCEL_CHECK_SECONDS (the claim counts as a
        look): a short job's checkpoints cost nothing, a long one sees a cancel within that much of
        its next checkpoint. A cancel that lands in between is still never recorded as the item's
        result, since the runner's writes are guarded on the item still running."""
        now = time.monotonic()
        if now - self.cancel_checked_at >= CANCEL_CHECK_SECONDS:
            self.cancel_checked_at = now
            if self.runtime.redis.exists(CANCEL_KEY.format(task_id=self.task.id)):
                raise Cancelled("the task was cancelled")
        if shutdown_requested.is_set():
            raise ShuttingDown("the worker is shutting down")


StageBody = Callable[[ItemContext], dict[str, Any] | None]

T = TypeVar("T")

DATABASE_RETRY_PAUSE_MAX = 5.0
"""Seconds between tries, at most, while a job waits for the database to come back."""


def with_database(runtime: Runtime, unit: Callable[[], T], bound: Any = log) -> T:
    """Run one unit of SQL work, waiting for an unreachable database instead of failing the item.

    A database restart or failover must not cost items their attempts: the job keeps its place, and
    its worker keeps heartbeating, for up to WORKER_DATABASE_WAIT_SECONDS. Past that (or on shutdown)
    the error goes up and the reconciler recovers the item once the database answers again.
    """
    deadline = time.monotonic() + runtime.settings.WORKER_DATABASE_WAIT_SECONDS
    pause = 0.25
    while True:
        try:
            return unit()
        except OperationalError as exc:
            if time.monotonic() + pause > deadline or shutdown_requested.is_set():
                raise
            bound.warning(
                "database_unavailable_waiting", error=str(exc.orig), retry_in=pause
            )
            time.sleep(pause)
            pause = min(pause * 2, DATABASE_RETRY_PAUSE_MAX)


@tracing.traced_job  # tracing: the job's consumer span, in its item's trace
def execute_item(stage: Stage, item_id: int, body: StageBody) -> dict[str, Any]:
    """Run one item through `stage` exactly once, however often its job is delivered.

    Two short transactions around the body: the claim (committed at once, so a worker that dies
    mid-body leaves a running item the reconciler can see and recover), then the body's own writes
    together with the item's move, its attempt's close and the task's counts.
    """
    runtime = current()
    job = get_current_job()
    job_id = job.id if job is not None else None
    worker_name = getattr(job, "worker_name", None) if job is not None else None
    bound = _JobLog(stage, item_id, job_id)

    def claim() -> items.Claim | None:
        with runtime.engine.begin() as conn:
            return items.claim_item(conn, item_id, job_id, worker_name)

    claimed = with_database(runtime, claim, bound)
    if claimed is None:
        bound.info(
            "item_skipped",
            reason="not waiting for this job (done, cancelled or re-queued)",
        )
        return {"item_id": item_id, "stage": stage, "outcome": "skipped"}
    metrics.observe_queue_wait(stage, progress.seconds_since(claimed.item.queued_at))

    started = time.monotonic()
    outcome, follow_up, error = _run_body(runtime, stage, claimed, job_id, body, bound)
    metrics.observe_item(
        stage, outcome, time.monotonic() - started, claimed.item.attempts
    )
    tracing.annotate(attempt=claimed.item.attempts, outcome=outcome)  # tracing
    if follow_up is not None:
        if job is not None and follow_up.stage == stage:
            # a retry runs the very function this job ran (tests and custom jobs included)
            follow_up = replace(follow_up, job_path=job.func_name)
        enqueue_item_jobs(runtime.redis, runtime.settings, [follow_up])
    if outcome == "failed" and error is not None:
        raise JobFailed(str(error)) from error
    return {"item_id": item_id, "stage": stage, "outcome": outcome}


class _JobLog:
    """The job's log fields, bound only when a line is written (most jobs write one)."""

    __slots__ = ("fields",)

    def __init__(self, stage: Stage, item_id: int, job_id: str | None) -> None:
        self.fields = {"stage": stage, "item_id": item_id, "job_id": job_id}

    def debug(self, event: str, **kw: Any) -> None:
        log.debug(event, **self.fields, **kw)

    def info(self, event: str, **kw: Any) -> None:
        log.info(event, **self.fields, **kw)

    def warning(self, event: str, **kw: Any) -> None:
        log.warning(event, **self.fields, **kw)

    def error(self, event: str, **kw: Any) -> None:
        log.error(event, **self.fields, **kw)

    def bind(self, **kw: Any) -> Any:
        return log.bind(**self.fields, **kw)


def _run_body(
    runtime: Runtime,
    stage: Stage,
    claimed: items.Claim,
    job_id: str | None,
    body: StageBody,
    bound: Any,
) -> tuple[str, ItemJob | None, BaseException | None]:
    """(outcome, job to enqueue after commit, error) for one attempt."""
    item, task = claimed.item, claimed.task
    item_id = item.id
    session = runtime.sessions()
    try:
        ctx = ItemContext(runtime, session, item, task, job_id, item.attempts, bound)
        if task.status == TaskStatus.CANCELLED:
            raise Cancelled("the task was cancelled")
        result = body(ctx) or {}
        session.flush()
        follow_up = items.complete_stage(session.connection(), claimed, job_id, result)
        session.commit()
        bound.info(
            "item_stage_completed", next_stage=follow_up.stage if follow_up else None
        )
        return "completed", follow_up, None
    except Cancelled:
        session.rollback()

        def record_cancelled() -> None:
            with session_scope(runtime.sessions) as s:
                items.record_cancelled_attempt(s, item_id, job_id)

        with_database(runtime, record_cancelled, bound)
        bound.info("item_cancelled")
        return "cancelled", None, None
    except ShuttingDown:
        session.rollback()

        def requeue() -> ItemJob | None:
            with session_scope(runtime.sessions) as s:
                return items.requeue_item(s, s.get_one(TaskItem, item_id), job_id)

        again = with_database(runtime, requeue, bound)
        bound.info("item_requeued_on_shutdown")
        return "requeued", again, None
    except (
        Exception
    ) as exc:  # the stage's failure, classified below; the process keeps serving
        session.rollback()
        return with_database(
            runtime,
            partial(_handle_failure, runtime, stage, item_id, job_id, exc, bound),
            bound,
        )
    finally:
        session.close()


def classify(exc: BaseException) -> RetryableError | PermanentError:
    """Map any exception a body raised to the failure model."""
    if isinstance(exc, RetryableError | PermanentError):
        return exc
    if isinstance(exc, JobTimeoutException):
        return RetryableError(f"the job ran past its timeout: {exc}", code="timeout")
    if isinstance(exc, IntegrityError):
        return PermanentError(
            f"constraint violated: {exc.orig}", code="constraint_violation"
        )
    if isinstance(exc, OperationalError):
        return RetryableError(
            f"database unavailable: {exc.orig}", code="database_unavailable"
        )
    if isinstance(exc, TimeoutError | ConnectionError):
        return RetryableError(str(exc) or type(exc).__name__, code="connection_error")
    return RetryableError(f"{type(exc).__name__}: {exc}", code="internal_error")


def _handle_failure(
    runtime: Runtime,
    stage: Stage,
    item_id: int,
    job_id: str | None,
    exc: Exception,
    bound: Any,
) -> tuple[str, ItemJob | None, BaseException | None]:
    error = classify(exc)
    # expected failures are one line (code and reason); only an unexpected exception brings its traceback
    trace = None if exc is error or isinstance(exc, JobTimeoutException) else exc
    settings = runtime.settings
    with session_scope(runtime.sessions) as session:
        item = session.get_one(TaskItem, item_id)
        attempts = item.attempts
        strategy = RetryStrategy.of(settings, stage)
        if (
            isinstance(error, RetryableError)
            and attempts < strategy.max_attempts
            and strategy.retries(error.code)
        ):
            delay = retry_delay(settings, stage, attempts, error.retry_after)
            again = items.schedule_retry(
                session, item, job_id, error.code, error.message, delay
            )
            bound.warning(
                "item_retry_scheduled",
                code=error.code,
                error=error.message,
                attempt=attempts,
                delay=delay,
                exc_info=trace,
            )
            return "retry", again, None
        message = (
            error.message
            if isinstance(error, PermanentError)
            else f"{error.message} (after {attempts} attempts)"
        )
        items.fail_item(session, item, job_id, error.code, message)
    bound.warning(
        "item_failed", code=error.code, error=message, attempt=attempts, exc_info=trace
    )
    return "failed", None, error
