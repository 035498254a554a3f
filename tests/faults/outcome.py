"""What a fault test checks at the end: every item finished with a reason, none lost, none twice."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from gleaner.db import session_scope
from gleaner.models import ItemAttempt, ItemStatus, TaskItem
from gleaner.runtime import Runtime


def item_states(runtime: Runtime, task_id: int) -> Counter[str]:
    with session_scope(runtime.sessions) as session:
        rows = session.execute(
            select(TaskItem.status, func.count())
            .where(TaskItem.task_id == task_id)
            .group_by(TaskItem.status)
        ).all()
    return Counter({str(status): int(count) for status, count in rows})


def is_finished(runtime: Runtime, task_id: int, total: int) -> bool:
    states = item_states(runtime, task_id)
    return states[ItemStatus.COMPLETED] + states[ItemStatus.FAILED] == total


def failures_without_reason(runtime: Runtime, task_id: int) -> list[int]:
    with session_scope(runtime.sessions) as session:
        return list(
            session.scalars(
                select(TaskItem.id).where(
                    TaskItem.task_id == task_id,
                    TaskItem.status == ItemStatus.FAILED,
                    (TaskItem.error_code.is_(None))
                    | (TaskItem.error_message.is_(None)),
                )
            )
        )


def failure_reasons(runtime: Runtime, task_id: int) -> Counter[str]:
    with session_scope(runtime.sessions) as session:
        codes = session.scalars(
            select(TaskItem.error_code).where(
                TaskItem.task_id == task_id, TaskItem.status == ItemStatus.FAILED
            )
        )
        return Counter(str(code) for code in codes)


def stage_runs_completed(runtime: Runtime, task_id: int) -> int:
    """How far a pipeline has got: the stage attempts of the task's items that completed."""
    with session_scope(runtime.sessions) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(ItemAttempt)
                .join(TaskItem, ItemAttempt.item_id == TaskItem.id)
                .where(TaskItem.task_id == task_id, ItemAttempt.outcome == "completed")
            )
            or 0
        )
