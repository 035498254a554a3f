"""One item's way through a stage: claim, complete or move on, retry, requeue, fail.

Every move is a guarded UPDATE (`WHERE id = … AND status = … AND job_id = …`): a job that finds its
item not waiting for it (done, cancelled, re-queued under another job id) changes nothing, so a job
delivered twice has one effect. The task's counts move in the same transaction (gleaner.tasks).
Callers commit; jobs are enqueued only after the commit (queues.enqueue_item_jobs).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from gleaner.db import rowcount
from gleaner.models import (
    FINISHED_ITEM_STATUSES,
    ItemAttempt,
    ItemStatus,
    ProcessingTask,
    TaskItem,
    TaskStatus,
    utcnow,
)
from gleaner.queues import ItemJob, as_stage, new_job_id, next_stage, task_priority
from gleaner.settings import Stage
from gleaner.tasks import count_item


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
            count_item(session, item.task_id, ItemStatus.COMPLETED)
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
        task_priority(task.config),
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
        # when it is due: the API shows "retrying in N s", and the reconciler leaves it alone till then
        queued_at=utcnow() + timedelta(seconds=delay),
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
        task_priority(task.config),
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
    return ItemJob(item.id, item.task_id, stage, again, task_priority(task.config))


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
    return ItemJob(item_id, task_id, stage, again, task_priority(task.config))


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
        count_item(session, item.task_id, ItemStatus.FAILED)
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
    changed = rowcount(
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
