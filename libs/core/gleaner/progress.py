"""Where a task's items are: per-stage progress, and the durations an ETA is made of (reads only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gleaner.models import (
    FINISHED_ITEM_STATUSES,
    ItemAttempt,
    ItemStatus,
    ProcessingTask,
    TaskItem,
    utcnow,
)


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
