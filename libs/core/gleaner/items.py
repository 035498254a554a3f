"""One item's way through a stage: claim, complete or move on, retry, requeue, fail.

Every move is a guarded UPDATE (`WHERE id = … AND status = … AND job_id = …`): a job that finds its
item not waiting for it (done, cancelled, re-queued under another job id) changes nothing, so a job
delivered twice has one effect. The task's counts move in the same transaction (gleaner.tasks).
Callers commit; jobs are enqueued only after the commit (queues.enqueue_item_jobs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    case,
    func,
    insert,
    select,
    update,
)
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
from gleaner.tasks import count_item, count_item_on

# --- the hot path: claim and complete, as prebuilt Core statements ----------------------------------
# Built once at import and executed on a Connection: SQLAlchemy compiles each once (its compiled cache,
# the statement's cache key memoised) and no ORM unit of work, identity map or reload is involved.
_items = cast(Table, TaskItem.__table__)
_tasks = cast(Table, ProcessingTask.__table__)
_attempts = cast(Table, ItemAttempt.__table__)

# what a stage body reads of its item and task (ItemContext.item / .task)
_ITEM_COLUMNS = (
    "task_id",
    "item_id",
    "item_type",
    "stage",
    "attempts",
    "link_id",
    "parsed_content_id",
    "ai_content_id",
    "notion_import_id",
    "result_data",
    "queued_at",
)
_TASK_COLUMNS = ("owner", "type", "status", "stages", "config", "max_retries")


def _job_guard(table: Any, with_job: bool) -> list[Any]:
    return [table.c.job_id == bindparam("b_job")] if with_job else []


def _claim_item_statement(with_job: bool) -> Any:
    return (
        update(_items)
        .where(
            _items.c.id == bindparam("b_item"),
            _items.c.status == ItemStatus.QUEUED.value,
            *_job_guard(_items, with_job),
        )
        .values(
            status=ItemStatus.RUNNING.value,
            attempts=_items.c.attempts + 1,
            worker_name=bindparam("b_worker"),
            started_at=bindparam("b_now"),
            updated_at=bindparam("b_now"),
        )
        .returning(*(_items.c[name] for name in _ITEM_COLUMNS))
    )


_CLAIM_ITEM = {True: _claim_item_statement(True), False: _claim_item_statement(False)}

_CLAIM_TASK = (
    update(_tasks)
    .where(_tasks.c.id == bindparam("b_task"))
    .values(
        started_at=func.coalesce(_tasks.c.started_at, bindparam("b_now")),
        worker_id=bindparam("b_worker"),
        status=case(
            (_tasks.c.status == TaskStatus.QUEUED.value, TaskStatus.RUNNING.value),
            else_=_tasks.c.status,
        ),
        updated_at=bindparam("b_now"),
    )
    .returning(*(_tasks.c[name] for name in _TASK_COLUMNS))
)

_OPEN_ATTEMPT = insert(_attempts)


def _move_item_statement(with_job: bool) -> Any:
    """Complete the running item, or queue it at its next stage: one guarded UPDATE for both."""
    return (
        update(_items)
        .where(
            _items.c.id == bindparam("b_item"),
            _items.c.status == ItemStatus.RUNNING.value,
            *_job_guard(_items, with_job),
        )
        .values(
            status=bindparam("b_status"),
            stage=bindparam("b_stage"),
            attempts=bindparam("b_attempts"),
            job_id=bindparam("b_next_job"),
            queued_at=bindparam("b_queued_at"),
            completed_at=bindparam("b_completed_at"),
            parsed_content_id=bindparam("b_parsed"),
            ai_content_id=bindparam("b_ai"),
            notion_import_id=bindparam("b_notion"),
            result_data=bindparam("b_result", type_=_items.c.result_data.type),
            error_code=None,
            error_message=None,
            updated_at=bindparam("b_now"),
        )
    )


_MOVE_ITEM = {True: _move_item_statement(True), False: _move_item_statement(False)}


@dataclass
class Claim:
    """A claimed item and its task, as transient (session-less) rows: a body reads them and sets the
    stage's output ids on `item`; complete_stage writes those with its guarded UPDATE."""

    item: TaskItem
    task: ProcessingTask


def claim_item(
    conn: Connection, item_id: int, job_id: str | None, worker_name: str | None
) -> Claim | None:
    """Claim a queued item for this job (item running, attempt opened, task running) in one transaction.

    None when the item is not waiting for this job (done, cancelled, re-queued): nothing to do.
    """
    now = utcnow()
    row = conn.execute(
        _CLAIM_ITEM[job_id is not None],
        {"b_item": item_id, "b_job": job_id, "b_worker": worker_name, "b_now": now},
    ).one_or_none()
    if row is None:
        return None
    fields = row._asdict()
    task_row = conn.execute(
        _CLAIM_TASK,
        {"b_task": fields["task_id"], "b_worker": worker_name, "b_now": now},
    ).one()
    conn.execute(
        _OPEN_ATTEMPT,
        {
            "item_id": item_id,
            "stage": fields["stage"],
            "number": fields["attempts"],
            "job_id": job_id,
            "worker_name": worker_name,
            "started_at": now,
        },
    )
    item = TaskItem(
        id=item_id,
        status=ItemStatus.RUNNING.value,
        job_id=job_id,
        worker_name=worker_name,
        started_at=now,
        **fields,
    )
    task = ProcessingTask(id=fields["task_id"], **task_row._asdict())
    return Claim(item, task)


def complete_stage(
    conn: Connection, claim: Claim, job_id: str | None, result: dict[str, Any]
) -> ItemJob | None:
    """The item's current stage is done: move it to the task's next stage, or complete it.

    Returns the job to enqueue after commit, or None. The stage's outputs (the *_id columns) must
    already be set on `claim.item` by the stage body; they are written by the same guarded UPDATE.
    """
    item, task = claim.item, claim.task
    following = next_stage(task.stages, item.stage)
    now = utcnow()
    params: dict[str, Any] = {
        "b_item": item.id,
        "b_job": job_id,
        "b_parsed": item.parsed_content_id,
        "b_ai": item.ai_content_id,
        "b_notion": item.notion_import_id,
        "b_result": {**(item.result_data or {}), item.stage: result},
        "b_now": now,
    }
    if following is None:
        params.update(
            b_status=ItemStatus.COMPLETED.value,
            b_stage=item.stage,
            b_attempts=item.attempts,
            b_next_job=job_id,
            b_queued_at=item.queued_at,
            b_completed_at=now,
        )
        next_job = None
    else:
        next_job = new_job_id(following, item.id)
        params.update(
            b_status=ItemStatus.QUEUED.value,
            b_stage=following,
            b_attempts=0,
            b_next_job=next_job,
            b_queued_at=now,
            b_completed_at=None,
        )
    if not rowcount(conn.execute(_MOVE_ITEM[job_id is not None], params)):
        return None  # lost the race (a cancel, the reconciler): their history, not ours
    close_attempt(conn, item.id, job_id, "completed", now=now)
    if following is None:
        count_item_on(conn, item.task_id, ItemStatus.COMPLETED)
        return None
    assert next_job is not None
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
    close_attempt(session.connection(), item_id, job_id, outcome, code, message)


def _close_attempt_statement(with_job: bool) -> Any:
    a = _attempts
    if with_job:
        which = [a.c.item_id == bindparam("b_item"), a.c.job_id == bindparam("b_job")]
    else:  # the job is unknown (a job run outside RQ): the item's latest open attempt
        latest = (
            select(func.max(a.c.id))
            .where(a.c.item_id == bindparam("b_item"), a.c.finished_at.is_(None))
            .scalar_subquery()
        )
        which = [a.c.id == latest]
    return (
        update(a)
        .where(*which, a.c.finished_at.is_(None))
        .values(
            outcome=bindparam("b_outcome"),
            error_code=bindparam("b_code"),
            error_message=bindparam("b_message"),
            finished_at=bindparam("b_now"),
        )
    )


_CLOSE_ATTEMPT = {
    True: _close_attempt_statement(True),
    False: _close_attempt_statement(False),
}


def close_attempt(
    conn: Connection,
    item_id: int,
    job_id: str | None,
    outcome: str,
    code: str | None = None,
    message: str | None = None,
    now: datetime | None = None,
) -> None:
    """Close the open attempt this job made: one UPDATE keyed on the item and the job id (a job id is
    used once, so at most one attempt is open under it)."""
    conn.execute(
        _CLOSE_ATTEMPT[job_id is not None],
        {
            "b_item": item_id,
            "b_job": job_id,
            "b_outcome": outcome,
            "b_code": code,
            "b_message": message,
            "b_now": now or utcnow(),
        },
    )
