"""Task dependencies: a task created with `after=[…]` waits until those tasks end, then starts by itself.

A waiting task has status `waiting`, its items `pending` with no job, and one `task_dependencies` row per
parent. Releasing is state-based, not an event: `release_ready` looks at every waiting task whose
parents have all ended and either starts it (guarded `UPDATE … WHERE status = 'waiting'`, items queued
with new job ids, jobs enqueued after the commit) or, when its condition can no longer be met, cancels
it with the reason. The reconciler runs it on every pass, so a crash between a parent's end and the
release (a worker, the API or the reconciler itself dying) only delays it; a crash between the commit
and the enqueue leaves queued items that the reconciler re-issues, as for any task.

- condition `completed`: start when every parent completed; cancel when one ended otherwise.
- condition `finished`: start when every parent ended, whatever the outcome.
- Cycles cannot be made: a task may only name tasks that exist already, and ids are given at creation.
- Cancelling a parent either cancels its waiting dependants (and theirs, transitively) or releases
  them, which drops that parent from what they wait for (`cancel_parent`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gleaner.db import rowcount
from gleaner.errors import InvalidRequest
from gleaner.models import (
    ItemStatus,
    ProcessingTask,
    TaskDependency,
    TaskItem,
    TaskStatus,
    utcnow,
)
from gleaner.queues import ItemJob, as_stage, new_job_id, task_priority
from gleaner.tasks import cancel_task

Condition = Literal["completed", "finished"]
OnParentCancel = Literal["cancel", "release"]

ENDED = (
    TaskStatus.COMPLETED,
    TaskStatus.FAILED,
    TaskStatus.PARTIALLY_FAILED,
    TaskStatus.CANCELLED,
)

DEFAULT_MAX_PARENTS = 100
"""Tasks one task may wait for."""

DEFAULT_RELEASE_BATCH = 500
"""Waiting tasks looked at per pass; more are covered by the next passes."""


def check_parents(session: Session, owner: str, parent_ids: Sequence[int]) -> list[int]:
    """The parents a new task names, deduplicated, after checking each is a task of `owner` (422)."""
    wanted = list(dict.fromkeys(parent_ids))
    if len(wanted) > DEFAULT_MAX_PARENTS:
        raise InvalidRequest(
            f"a task may wait for at most {DEFAULT_MAX_PARENTS} tasks; {len(wanted)} given",
            code="too_many_parents",
        )
    found = set(
        session.scalars(
            select(ProcessingTask.id).where(
                ProcessingTask.id.in_(wanted), ProcessingTask.owner == owner
            )
        )
    )
    unknown = [task_id for task_id in wanted if task_id not in found]
    if unknown:
        # Another owner's task is as unknown as one that does not exist: nothing about it leaks.
        raise InvalidRequest(
            f"`after` names tasks that do not exist: {unknown[:20]} (a task can only wait for "
            "existing tasks of its own owner, so no cycle can be made)",
            code="unknown_parent_task",
            details={"unknown": unknown},
        )
    return wanted


def hold(
    session: Session,
    task: ProcessingTask,
    parent_ids: Sequence[int],
    condition: Condition,
) -> None:
    """Make a just-created task wait for its parents: its items stay pending, without jobs."""
    task.status = TaskStatus.WAITING
    task.job_id = None
    task.config = {**task.config, "after": list(parent_ids), "condition": condition}
    session.execute(
        update(TaskItem)
        .where(TaskItem.task_id == task.id)
        .values(status=ItemStatus.PENDING, job_id=None, queued_at=None)
    )
    session.add_all(
        TaskDependency(task_id=task.id, parent_id=parent) for parent in parent_ids
    )
    session.flush()


def release_ready(
    session: Session, task_ids: Sequence[int] | None = None
) -> list[ItemJob]:
    """Start (or cancel) every waiting task whose parents have all ended; returns jobs to enqueue.

    `task_ids` limits the look to those tasks (the API after a submit); None looks at all of them.
    """
    query = select(ProcessingTask.id).where(ProcessingTask.status == TaskStatus.WAITING)
    if task_ids is not None:
        query = query.where(ProcessingTask.id.in_(list(task_ids)))
    waiting = list(
        session.scalars(query.order_by(ProcessingTask.id).limit(DEFAULT_RELEASE_BATCH))
    )
    if not waiting:
        return []
    parents: dict[int, list[tuple[int, str]]] = {task_id: [] for task_id in waiting}
    for task_id, parent_id, status in session.execute(
        select(TaskDependency.task_id, TaskDependency.parent_id, ProcessingTask.status)
        .join(ProcessingTask, ProcessingTask.id == TaskDependency.parent_id)
        .where(TaskDependency.task_id.in_(waiting))
    ):
        parents[task_id].append((parent_id, status))
    jobs: list[ItemJob] = []
    for task_id, ends in parents.items():
        if any(status not in ENDED for _, status in ends):
            continue
        task = session.get_one(ProcessingTask, task_id)
        condition = task.config.get("condition", "completed")
        unmet = [
            (parent, status)
            for parent, status in ends
            if status != TaskStatus.COMPLETED
        ]
        if condition == "completed" and unmet:
            parent, status = unmet[0]
            _cancel_waiting(
                session, task, f"task {parent} it waited for ended {status}"
            )
        else:
            jobs += _start(session, task)
    return jobs


def _start(session: Session, task: ProcessingTask) -> list[ItemJob]:
    now = utcnow()
    started = rowcount(
        session.execute(
            update(ProcessingTask)
            .where(
                ProcessingTask.id == task.id,
                ProcessingTask.status == TaskStatus.WAITING,
            )
            .values(status=TaskStatus.QUEUED, updated_at=now)
        )
    )
    if not started:
        return []  # another replica released it first
    priority = task_priority(task.config)
    jobs = []
    pending = session.scalars(
        select(TaskItem).where(
            TaskItem.task_id == task.id, TaskItem.status == ItemStatus.PENDING
        )
    ).all()
    for item in pending:
        item.job_id = new_job_id(item.stage, item.id)
        item.status = ItemStatus.QUEUED
        item.queued_at = now
        jobs.append(
            ItemJob(
                item.id,
                task.id,
                as_stage(item.stage),
                item.job_id,
                priority,
                trace=item.traceparent,  # its own trace, not the releasing job's
            )
        )
    if len(pending) == 1:
        task.job_id = pending[0].job_id
    session.flush()
    if not pending:
        task.status = TaskStatus.COMPLETED
        task.completed_at = now
    return jobs


def _cancel_waiting(session: Session, task: ProcessingTask, reason: str) -> bool:
    """Cancel a task that is still waiting (False when it no longer was)."""
    guard = (
        update(ProcessingTask)
        .where(
            ProcessingTask.id == task.id, ProcessingTask.status == TaskStatus.WAITING
        )
        .values(error=reason, updated_at=utcnow())
    )
    if not rowcount(session.execute(guard)):
        return False
    session.refresh(task)
    cancel_task(session, task)  # its items have no jobs: nothing to take out of Redis
    return True


def cancel_parent(
    session: Session, task: ProcessingTask, mode: OnParentCancel
) -> tuple[list[int], list[ItemJob]]:
    """After `task` was cancelled: cancel its waiting dependants (transitively) or release them.

    Returns the ids of the dependants cancelled or released, and the jobs of those that start now.
    """
    if mode == "release":
        dependants = list(
            session.scalars(
                select(TaskDependency.task_id).where(
                    TaskDependency.parent_id == task.id
                )
            )
        )
        session.execute(
            delete(TaskDependency).where(TaskDependency.parent_id == task.id)
        )
        return dependants, release_ready(session, dependants) if dependants else []
    cancelled: list[int] = []
    frontier = [task.id]
    while frontier:
        children = list(
            session.scalars(
                select(ProcessingTask)
                .join(TaskDependency, TaskDependency.task_id == ProcessingTask.id)
                .where(
                    TaskDependency.parent_id.in_(frontier),
                    ProcessingTask.status == TaskStatus.WAITING,
                )
            ).unique()
        )
        frontier = []
        for child in children:
            if _cancel_waiting(
                session, child, f"task {task.id} it waited for was cancelled"
            ):
                cancelled.append(child.id)
                frontier.append(child.id)
    return cancelled, []


def parents_of(session: Session, task_id: int) -> list[int]:
    return list(
        session.scalars(
            select(TaskDependency.parent_id)
            .where(TaskDependency.task_id == task_id)
            .order_by(TaskDependency.parent_id)
        )
    )
