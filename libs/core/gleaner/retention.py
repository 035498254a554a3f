"""Retention: finished tasks are deleted after a while; what they produced (links, content) stays.

Completed tasks go after GLEANER_RETENTION_COMPLETED_DAYS, failed, partially failed and cancelled ones
after GLEANER_RETENTION_FAILED_DAYS (kept longer, for debugging). Items and attempts go with their task.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gleaner.models import ItemAttempt, ProcessingTask, TaskItem, TaskStatus, utcnow
from gleaner.settings import Settings

FAILED_STATUSES = (TaskStatus.FAILED, TaskStatus.PARTIALLY_FAILED, TaskStatus.CANCELLED)


def purge_finished_tasks(
    session: Session, settings: Settings, now: datetime | None = None
) -> dict[str, int]:
    """Delete tasks past their retention; returns how many of each kind went."""
    now = now or utcnow()
    rules = {
        "completed": (
            (TaskStatus.COMPLETED,),
            now - timedelta(days=settings.RETENTION_COMPLETED_DAYS),
        ),
        "failed": (
            FAILED_STATUSES,
            now - timedelta(days=settings.RETENTION_FAILED_DAYS),
        ),
    }
    deleted: dict[str, int] = {}
    for kind, (statuses, cutoff) in rules.items():
        task_ids = list(
            session.scalars(
                select(ProcessingTask.id).where(
                    ProcessingTask.status.in_(statuses),
                    ProcessingTask.completed_at < cutoff,
                )
            )
        )
        if task_ids:
            # Explicit child deletes: SQLite enforces ON DELETE CASCADE only with its pragma on.
            item_ids = select(TaskItem.id).where(TaskItem.task_id.in_(task_ids))
            session.execute(
                delete(ItemAttempt).where(ItemAttempt.item_id.in_(item_ids))
            )
            session.execute(delete(TaskItem).where(TaskItem.task_id.in_(task_ids)))
            session.execute(
                delete(ProcessingTask).where(ProcessingTask.id.in_(task_ids))
            )
        deleted[kind] = len(task_ids)
    return deleted
