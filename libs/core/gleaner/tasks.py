"""The task lifecycle: create a task with its items, keep its counts and status, cancel, retry failed.

Task counts move only by `n = n + 1` in the same transaction as an item's own change (gleaner.items),
and the task's status is derived from the counts in SQL: no read-modify-write, so concurrent workers
never lose one. Callers commit; jobs are enqueued only after the commit (queues.enqueue_item_jobs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    case,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from gleaner import tracing
from gleaner.db import insert_columns, reserve_ids, rowcount
from gleaner.models import (
    FINISHED_ITEM_STATUSES,
    ItemStatus,
    ProcessingTask,
    TaskItem,
    TaskStatus,
    TaskType,
    utcnow,
)
from gleaner.queues import (
    QUEUES,
    ItemJob,
    Priority,
    as_stage,
    new_job_id,
    new_job_ids,
    task_priority,
)
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
    priority: Priority = "normal",
) -> tuple[ProcessingTask, list[ItemJob]]:
    """A task with one queued item per input; returns the jobs to enqueue once the caller commits."""
    first: Stage = stages[0]
    now = utcnow()
    task = ProcessingTask(
        owner=owner,
        type=task_type,
        status=TaskStatus.QUEUED if inputs else TaskStatus.COMPLETED,
        stages=list(stages),
        config={**(config or {}), "priority": priority},
        total_items=len(inputs),
        queue_name=QUEUES[first].name,
        max_retries=max_retries,
        completed_at=None if inputs else now,
    )
    session.add(task)
    session.flush()
    # Core rows, not ORM objects: a 10,000-item batch is written by a few multi-row INSERTs, with ids
    # reserved first so each row is written once, job id and trace included.
    queue = QUEUES[first].name
    ids = reserve_ids(session, TaskItem.__tablename__, len(inputs))
    job_ids = new_job_ids(first, ids)
    traces = [tracing.start_item_trace(queue, task.id, item_id) for item_id in ids]
    insert_columns(
        session,
        cast(Table, TaskItem.__table__),
        {
            "id": ids,
            "item_id": [given.item_id for given in inputs],
            "item_type": [str(given.item_type) for given in inputs],
            "job_id": job_ids,
            "link_id": [given.link_id for given in inputs],
            "parsed_content_id": [given.parsed_content_id for given in inputs],
            "ai_content_id": [given.ai_content_id for given in inputs],
            "traceparent": traces,
        },
        {
            "task_id": task.id,
            "stage": first,
            "status": str(ItemStatus.QUEUED),
            "attempts": 0,
            "result_data": {},
            "queued_at": now,
            "updated_at": now,
        },
    )
    jobs = [
        ItemJob(item_id, task.id, first, job_id, priority, trace=trace)
        for item_id, job_id, trace in zip(ids, job_ids, traces, strict=True)
    ]
    if len(jobs) == 1:
        task.job_id = jobs[0].job_id
    session.flush()
    return task, jobs


def count_item(session: Session, task_id: int, status: ItemStatus, by: int = 1) -> None:
    """Add `by` to the task's count for `status`, and derive the task's status from the new counts."""
    count_item_on(session.connection(), task_id, status, by)


def count_item_on(
    conn: Connection, task_id: int, status: ItemStatus, by: int = 1
) -> None:
    """count_item on a Connection: one UPDATE that adds and derives the status from the sums it writes
    (SET expressions read the row as it was, on SQLite and PostgreSQL alike)."""
    conn.execute(
        _COUNT_STATEMENTS[status], {"b_task": task_id, "b_by": by, "b_now": utcnow()}
    )


def refresh_task_status(session: Session, task_id: int) -> None:
    """Set the task's status from its counts (one UPDATE that reads the row it writes)."""
    t = ProcessingTask
    session.execute(
        update(t)
        .where(t.id == task_id)
        .values(
            _derived_status(
                t.completed_items, t.failed_items, t.cancelled_items, utcnow()
            )
        )
    )


def _derived_status(
    completed: Any, failed: Any, cancelled: Any, now: Any
) -> dict[str, Any]:
    """The status, completed_at and updated_at values that follow from these counts."""
    t = ProcessingTask
    done = completed + failed + cancelled >= t.total_items
    return {
        "status": case(
            (t.status == TaskStatus.CANCELLED, TaskStatus.CANCELLED),
            (done & (failed == 0) & (cancelled == 0), TaskStatus.COMPLETED),
            (done & (completed == 0) & (failed > 0), TaskStatus.FAILED),
            (done & (cancelled == t.total_items), TaskStatus.CANCELLED),
            (done, TaskStatus.PARTIALLY_FAILED),
            (t.started_at.is_(None), TaskStatus.QUEUED),
            else_=TaskStatus.RUNNING,
        ),
        "completed_at": case((done, func.coalesce(t.completed_at, now)), else_=None),
        "updated_at": now,
    }


def _count_statement(status: ItemStatus) -> Any:
    t = cast(Table, ProcessingTask.__table__)
    by: Any = bindparam("b_by")
    counts = {
        name: t.c[name] + by if column is _COUNT_COLUMN[status] else t.c[name]
        for name, column in (
            ("completed_items", ProcessingTask.completed_items),
            ("failed_items", ProcessingTask.failed_items),
            ("cancelled_items", ProcessingTask.cancelled_items),
        )
    }
    changed = _COUNT_COLUMN[status].key
    return (
        update(t)
        .where(t.c.id == bindparam("b_task"))
        .values(
            {
                changed: counts[changed],
                **_derived_status(
                    counts["completed_items"],
                    counts["failed_items"],
                    counts["cancelled_items"],
                    bindparam("b_now"),
                ),
            }
        )
    )


_COUNT_STATEMENTS = {status: _count_statement(status) for status in _COUNT_COLUMN}


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
        changed = rowcount(
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
    priority = task_priority(task.config)
    for item in failed:
        job_id = new_job_id(item.stage, item.id)
        changed = rowcount(
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
            jobs.append(
                ItemJob(item.id, task.id, as_stage(item.stage), job_id, priority)
            )
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
