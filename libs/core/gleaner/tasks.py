"""The task and item lifecycle, in one place.

Every item change is a guarded UPDATE (`WHERE id = … AND status = … AND job_id = …`): a job that finds
its item not waiting for it (done, cancelled, re-queued under another job id) changes nothing, so a job
delivered twice has one effect. Task counts move only by `n = n + 1` in the same transaction as the
item's own change, and the task's status is derived from the counts in SQL: no read-modify-write.
Callers commit; jobs are enqueued only after the commit (gleaner.queues.enqueue_item_jobs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, case, func, select, update
from sqlalchemy.orm import Session

from gleaner.models import (
    FINISHED_ITEM_STATUSES,
    ItemAttempt,
    ItemStatus,
    ProcessingTask,
    TaskItem,
    TaskStatus,
    TaskType,
    utcnow,
)
from gleaner.queues import QUEUES, ItemJob, as_stage, new_job_id, next_stage
from gleaner.settings import Stage

_COUNT_COLUMN = {
    ItemStatus.COMPLETED: ProcessingTask.completed_items,
    ItemStatus.FAILED: ProcessingTask.failed_items,
    ItemStatus.CANCELLED: ProcessingTask.cancelled_items,
}


@dataclass(frozen=True)
class ItemInput:
    """What one item of a new task starts from."""

    item_id: int
    item_type: str
    link_id: int | None = None
    parsed_content_id: int | None = None
    ai_content_id: int | None = None


def create_task(
    session: Session,
    *,
    owner: str,
    task_type: TaskType,
    stages: Sequence[Stage],
    inputs: Sequence[ItemInput],
    config: dict[str, Any] | None = None,
    max_retries: int = 3,
    high_priority: bool = False,
) -> tuple[ProcessingTask, list[ItemJob]]:
    """A task with one queued item per input; returns the jobs to enqueue once the caller commits."""
    first: Stage = stages[0]
    now = utcnow()
    task = ProcessingTask(
        owner=owner,
        type=task_type,
        status=TaskStatus.QUEUED if inputs else TaskStatus.COMPLETED,
        stages=list(stages),
        config={**(config or {}), "high_priority": high_priority},
        total_items=len(inputs),
        queue_name=QUEUES[first].name,
        max_retries=max_retries,
        completed_at=None if inputs else now,
    )
    session.add(task)
    session.flush()
    items = [
        TaskItem(
            task_id=task.id,
            item_id=given.item_id,
            item_type=given.item_type,
            stage=first,
            status=ItemStatus.QUEUED,
            link_id=given.link_id,
            parsed_content_id=given.parsed_content_id,
            ai_content_id=given.ai_content_id,
            queued_at=now,
        )
        for given in inputs
    ]
    session.add_all(items)
    session.flush()
    jobs = []
    for item in items:
        item.job_id = new_job_id(first, item.id)
        jobs.append(ItemJob(item.id, task.id, first, item.job_id, high_priority))
    if len(items) == 1:
        task.job_id = items[0].job_id
    session.flush()
    return task, jobs


# --- one item's way through a stage -----------------------------------------------------------------


def start_item(
    session: Session, item_id: int, job_id: str | None, worker_name: str | None
) -> TaskItem | None:
    """Claim a queued item for this job; None when the item is not waiting for it (nothing to do)."""
    now = utcnow()
    guard = [TaskItem.id == item_id, TaskItem.status == ItemStatus.QUEUED]
    if job_id is not None:
        guard.append(TaskItem.job_id == job_id)
    claimed = session.execute(
        update(TaskItem)
        .where(*guard)
        .values(
            status=ItemStatus.RUNNING,
            attempts=TaskItem.attempts + 1,
            worker_name=worker_name,
            started_at=now,
            updated_at=now,
        )
        .returning(TaskItem.task_id, TaskItem.stage, TaskItem.attempts)
    ).one_or_none()
    if claimed is None:
        return None
    task_id, stage, attempts = claimed
    session.execute(
        update(ProcessingTask)
        .where(ProcessingTask.id == task_id)
        .values(
            started_at=func.coalesce(ProcessingTask.started_at, now),
            worker_id=worker_name,
            status=case(
                (ProcessingTask.status == TaskStatus.QUEUED, TaskStatus.RUNNING),
                else_=ProcessingTask.status,
            ),
            updated_at=now,
        )
    )
    session.add(
        ItemAttempt(
            item_id=item_id,
            stage=stage,
            number=attempts,
            job_id=job_id,
            worker_name=worker_name,
            started_at=now,
        )
    )
    session.flush()
    return session.get(TaskItem, item_id, populate_existing=True)


def complete_stage(
    session: Session, item: TaskItem, job_id: str | None, result: dict[str, Any]
) -> ItemJob | None:
    """The item's current stage is done: move it to the task's next stage, or complete it.

    Returns the job to enqueue after commit, or None. The stage's outputs (the *_id columns) must
    already be set on `item` by the stage body; they are written by the same guarded UPDATE.
    """
    task = session.get_one(ProcessingTask, item.task_id)
    following = next_stage(task.stages, item.stage)
    outputs = {
        "parsed_content_id": item.parsed_content_id,
        "ai_content_id": item.ai_content_id,
        "notion_import_id": item.notion_import_id,
        "result_data": {**(item.result_data or {}), item.stage: result},
    }
    done = ("completed", None, None)
    if following is None:
        if _transition(
            session,
            item,
            job_id,
            ItemStatus.COMPLETED,
            attempt=done,
            **outputs,
            error_code=None,
            error_message=None,
        ):
            _count(session, item.task_id, ItemStatus.COMPLETED)
        return None
    next_job = new_job_id(following, item.id)
    moved = _transition(
        session,
        item,
        job_id,
        ItemStatus.QUEUED,
        attempt=done,
        **outputs,
        stage=following,
        attempts=0,
        job_id=next_job,
        queued_at=utcnow(),
        error_code=None,
        error_message=None,
    )
    if not moved:
        return None
    return ItemJob(
        item.id,
        item.task_id,
        following,
        next_job,
        bool(task.config.get("high_priority")),
    )


def schedule_retry(
    session: Session,
    item: TaskItem,
    job_id: str | None,
    code: str,
    message: str,
    delay: float,
    outcome: str = "retry",
) -> ItemJob | None:
    """Back to the queue after a retryable failure (or a lost worker); the attempt stays spent."""
    retry_job = new_job_id(item.stage, item.id)
    stage = as_stage(item.stage)
    if not _transition(
        session,
        item,
        job_id,
        ItemStatus.QUEUED,
        attempt=(outcome, code, message),
        job_id=retry_job,
        queued_at=utcnow(),
        error_code=code,
        error_message=message,
    ):
        return None
    task = session.get_one(ProcessingTask, item.task_id)
    return ItemJob(
        item.id,
        item.task_id,
        stage,
        retry_job,
        bool(task.config.get("high_priority")),
        delay=delay,
    )


def requeue_item(
    session: Session, item: TaskItem, job_id: str | None, outcome: str = "requeued"
) -> ItemJob | None:
    """Back to the queue without spending the attempt (a worker shutting down, a lost job)."""
    again = new_job_id(item.stage, item.id)
    stage = as_stage(item.stage)
    if not _transition(
        session,
        item,
        job_id,
        ItemStatus.QUEUED,
        attempt=(outcome, None, None),
        job_id=again,
        attempts=case((TaskItem.attempts > 0, TaskItem.attempts - 1), else_=0),
        queued_at=utcnow(),
    ):
        return None
    task = session.get_one(ProcessingTask, item.task_id)
    return ItemJob(
        item.id, item.task_id, stage, again, bool(task.config.get("high_priority"))
    )


def reissue_item(
    session: Session, item_id: int, stage: Stage, job_id: str
) -> ItemJob | None:
    """A queued item whose job Redis no longer holds gets a new job; no attempt was spent.

    Guarded on (queued, stage, job_id) like every move: a worker that claims the old job first wins and
    this changes nothing; if this wins, the old job (should it still run) finds nothing to do.
    """
    again = new_job_id(stage, item_id)
    now = utcnow()
    task_id = session.execute(
        update(TaskItem)
        .where(
            TaskItem.id == item_id,
            TaskItem.status == ItemStatus.QUEUED,
            TaskItem.stage == stage,
            TaskItem.job_id == job_id,
        )
        .values(job_id=again, queued_at=now, updated_at=now)
        .returning(TaskItem.task_id)
    ).scalar_one_or_none()
    if task_id is None:
        return None
    task = session.get_one(ProcessingTask, task_id)
    return ItemJob(
        item_id, task_id, stage, again, bool(task.config.get("high_priority"))
    )


def fail_item(
    session: Session, item: TaskItem, job_id: str | None, code: str, message: str
) -> bool:
    """The item fails at its current stage with its reason; False when it was not this job's to fail."""
    if _transition(
        session,
        item,
        job_id,
        ItemStatus.FAILED,
        attempt=("failed", code, message),
        error_code=code,
        error_message=message,
    ):
        _count(session, item.task_id, ItemStatus.FAILED)
        return True
    return False


def record_cancelled_attempt(
    session: Session, item_id: int, job_id: str | None
) -> None:
    """A running job stopped at a checkpoint because its task was cancelled (already counted)."""
    _finish_attempt(session, item_id, job_id, "cancelled")


def _transition(
    session: Session,
    item: TaskItem,
    running_job: str | None,
    status: ItemStatus,
    *,
    attempt: tuple[str, str | None, str | None],
    **values: Any,
) -> bool:
    """Move a running item on, only if it is still running under `running_job` (the guard).

    Only then is this job's attempt closed with `attempt` = (outcome, error code, message): a job that
    lost the race (to a cancel, or to the reconciler) leaves the item's history to whoever won.
    """
    item_id = item.id
    now = utcnow()
    guard = [TaskItem.id == item.id, TaskItem.status == ItemStatus.RUNNING]
    if running_job is not None:
        guard.append(TaskItem.job_id == running_job)
    if status in FINISHED_ITEM_STATUSES:
        values.setdefault("completed_at", now)
    changed = _rowcount(
        session.execute(
            update(TaskItem)
            .where(*guard)
            .values(status=status, updated_at=now, **values)
        )
    )
    if changed:
        _finish_attempt(session, item_id, running_job, *attempt)
    session.expire(item)
    return bool(changed)


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE changed (its result is a CursorResult)."""
    return int(cast(CursorResult[Any], result).rowcount)


def _finish_attempt(
    session: Session,
    item_id: int,
    job_id: str | None,
    outcome: str,
    code: str | None = None,
    message: str | None = None,
) -> None:
    """Close the open attempt this job made (the item's latest open one when the job is unknown)."""
    query = select(ItemAttempt).where(
        ItemAttempt.item_id == item_id, ItemAttempt.finished_at.is_(None)
    )
    if job_id is not None:
        query = query.where(ItemAttempt.job_id == job_id)
    latest = session.scalars(query.order_by(ItemAttempt.id.desc()).limit(1)).first()
    if latest is not None:
        latest.outcome = outcome
        latest.error_code = code
        latest.error_message = message
        latest.finished_at = utcnow()


def _count(session: Session, task_id: int, status: ItemStatus, by: int = 1) -> None:
    """Add `by` to the task's count for `status`, then derive the task's status from the new counts."""
    column = _COUNT_COLUMN[status]
    session.execute(
        update(ProcessingTask)
        .where(ProcessingTask.id == task_id)
        .values({column: column + by})
    )
    refresh_task_status(session, task_id)


def refresh_task_status(session: Session, task_id: int) -> None:
    """Set the task's status from its counts (one UPDATE that reads the row it writes)."""
    t = ProcessingTask
    finished = t.completed_items + t.failed_items + t.cancelled_items
    now = utcnow()
    done = finished >= t.total_items
    session.execute(
        update(t)
        .where(t.id == task_id)
        .values(
            status=case(
                (t.status == TaskStatus.CANCELLED, TaskStatus.CANCELLED),
                (
                    done & (t.failed_items == 0) & (t.cancelled_items == 0),
                    TaskStatus.COMPLETED,
                ),
                (
                    done & (t.completed_items == 0) & (t.failed_items > 0),
                    TaskStatus.FAILED,
                ),
                (done & (t.cancelled_items == t.total_items), TaskStatus.CANCELLED),
                (done, TaskStatus.PARTIALLY_FAILED),
                (t.started_at.is_(None), TaskStatus.QUEUED),
                else_=TaskStatus.RUNNING,
            ),
            completed_at=case((done, func.coalesce(t.completed_at, now)), else_=None),
            updated_at=now,
        )
    )


# --- whole-task actions -----------------------------------------------------------------------------


def cancel_task(session: Session, task: ProcessingTask) -> list[TaskItem]:
    """Mark the task and every unfinished item cancelled; returns the items whose jobs to remove.

    Running jobs see the cancellation at their next checkpoint, and their guarded writes find the item
    no longer running, so nothing they finish afterwards is recorded as the item's result.
    """
    now = utcnow()
    unfinished = list(
        session.scalars(
            select(TaskItem).where(
                TaskItem.task_id == task.id,
                TaskItem.status.not_in(FINISHED_ITEM_STATUSES),
            )
        )
    )
    ids = [item.id for item in unfinished]
    if ids:
        changed = _rowcount(
            session.execute(
                update(TaskItem)
                .where(
                    TaskItem.id.in_(ids), TaskItem.status.not_in(FINISHED_ITEM_STATUSES)
                )
                .values(status=ItemStatus.CANCELLED, completed_at=now, updated_at=now)
            )
        )
        session.execute(
            update(ProcessingTask)
            .where(ProcessingTask.id == task.id)
            .values(cancelled_items=ProcessingTask.cancelled_items + changed)
        )
    session.execute(
        update(ProcessingTask)
        .where(ProcessingTask.id == task.id)
        .values(
            status=TaskStatus.CANCELLED,
            completed_at=func.coalesce(ProcessingTask.completed_at, now),
        )
    )
    session.flush()
    session.refresh(task)
    return unfinished


def retry_failed(session: Session, task: ProcessingTask) -> list[ItemJob]:
    """Queue the task's failed items again at the stage they failed in; others are left alone."""
    failed = list(
        session.scalars(
            select(TaskItem).where(
                TaskItem.task_id == task.id, TaskItem.status == ItemStatus.FAILED
            )
        )
    )
    now = utcnow()
    jobs: list[ItemJob] = []
    high = bool(task.config.get("high_priority"))
    for item in failed:
        job_id = new_job_id(item.stage, item.id)
        changed = _rowcount(
            session.execute(
                update(TaskItem)
                .where(TaskItem.id == item.id, TaskItem.status == ItemStatus.FAILED)
                .values(
                    status=ItemStatus.QUEUED,
                    job_id=job_id,
                    attempts=0,
                    queued_at=now,
                    completed_at=None,
                    updated_at=now,
                )
            )
        )
        if changed:
            jobs.append(ItemJob(item.id, task.id, as_stage(item.stage), job_id, high))
    if jobs:
        session.execute(
            update(ProcessingTask)
            .where(ProcessingTask.id == task.id)
            .values(
                failed_items=ProcessingTask.failed_items - len(jobs),
                retry_count=ProcessingTask.retry_count + 1,
                status=TaskStatus.RUNNING,
                completed_at=None,
                updated_at=now,
            )
        )
    session.flush()
    session.refresh(task)
    return jobs


def is_item_finished(status: str) -> bool:
    return status in FINISHED_ITEM_STATUSES


def stage_progress(session: Session, task: ProcessingTask) -> dict[str, dict[str, int]]:
    """Per stage of the task: how many items are done with it, at it (by status), or not there yet."""
    rows = session.execute(
        select(TaskItem.stage, TaskItem.status, func.count())
        .where(TaskItem.task_id == task.id)
        .group_by(TaskItem.stage, TaskItem.status)
    ).all()
    stages: list[str] = list(task.stages)
    summary = {
        stage: {
            "done": 0,
            "queued": 0,
            "running": 0,
            "failed": 0,
            "cancelled": 0,
            "waiting": 0,
            "skipped": 0,
        }
        for stage in stages
    }
    for stage, status, count in rows:
        position = stages.index(stage)
        for earlier in stages[:position]:
            summary[earlier]["done"] += count
        for later in stages[position + 1 :]:
            # an item that ended before a later stage never reaches it
            summary[later]["skipped" if is_item_finished(status) else "waiting"] += (
                count
            )
        if status == ItemStatus.COMPLETED:
            summary[stage]["done"] += count
        elif status in (ItemStatus.QUEUED, ItemStatus.PENDING):
            summary[stage]["queued"] += count
        else:
            summary[stage][str(status)] += count
    return summary


def recent_stage_seconds(
    session: Session, stage: str, sample: int = 50
) -> float | None:
    """Median seconds of the stage's last `sample` completed attempts: the ETA's unit of work."""
    rows = session.execute(
        select(ItemAttempt.started_at, ItemAttempt.finished_at)
        .where(ItemAttempt.stage == stage, ItemAttempt.outcome == "completed")
        .order_by(ItemAttempt.id.desc())
        .limit(sample)
    ).all()
    durations = sorted(
        (end - start).total_seconds() for start, end in rows if end is not None
    )
    if not durations:
        return None
    return durations[len(durations) // 2]


def seconds_since(moment: datetime | None) -> float | None:
    return None if moment is None else (utcnow() - moment).total_seconds()
