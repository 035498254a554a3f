"""Where a task's items are: per-stage progress, and the durations an ETA is made of (reads only)."""

from __future__ import annotations

from collections.abc import Sequence
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
    return stage_progress_of(session, [task])[task.id]


def stage_progress_of(
    session: Session, tasks: Sequence[ProcessingTask]
) -> dict[int, dict[str, dict[str, int]]]:
    """stage_progress of many tasks in one query (a page of the task list); read from an index alone."""
    rows = session.execute(
        select(TaskItem.task_id, TaskItem.stage, TaskItem.status, func.count())
        .where(TaskItem.task_id.in_([task.id for task in tasks]))
        .group_by(TaskItem.task_id, TaskItem.stage, TaskItem.status)
    ).all()
    counted: dict[int, list[tuple[str, str, int]]] = {task.id: [] for task in tasks}
    for task_id, stage, status, count in rows:
        counted[task_id].append((stage, status, count))
    return {task.id: _summary(list(task.stages), counted[task.id]) for task in tasks}


def _summary(
    stages: list[str], rows: list[tuple[str, str, int]]
) -> dict[str, dict[str, int]]:
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
    """Median seconds of the stage's last `sample` completed attempts: the ETA's unit of work.

    Read backwards along ix_item_attempts_stage_outcome_id: `sample` rows, not a sort of every attempt.
    """
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
