"""A running task's per-stage counts: counted again when items finish, but at most every
RECOUNT_SECONDS per process and then in the background (the read that finds them due answers with the
counts it has), and at once when the task's status changes. A real task in a real SQLite database."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import update

from gleaner.models import (
    ItemStatus,
    ProcessingTask,
    TaskItem,
    TaskStatus,
    TaskType,
    utcnow,
)
from gleaner.runtime import Runtime
from gleaner.tasks import ItemInput, count_item, create_task
from gleaner_api import stagecounts


@pytest.fixture
def task_id(runtime: Runtime) -> int:
    stagecounts.STAGE_PROGRESS.clear()
    with runtime.sessions() as session:
        task, _ = create_task(
            session,
            owner="o",
            task_type=TaskType.PIPELINE,
            stages=["parsing"],
            inputs=[ItemInput(n, "link") for n in range(1, 4)],
        )
        session.execute(
            update(ProcessingTask)
            .where(ProcessingTask.id == task.id)
            .values(status=TaskStatus.RUNNING, started_at=utcnow())
        )
        session.commit()
        return task.id


def finish_one(runtime: Runtime, task_id: int) -> None:
    with runtime.sessions() as session:
        item = (
            session.query(TaskItem).filter_by(task_id=task_id, status="queued").first()
        )
        assert item is not None
        item.status = ItemStatus.COMPLETED
        count_item(session, task_id, ItemStatus.COMPLETED)
        session.commit()


def done(runtime: Runtime, task_id: int) -> int:
    """What a status read shows as done at parsing (a fresh session, as a request has)."""
    with runtime.sessions() as session:
        task = session.get(ProcessingTask, task_id)
        assert task is not None
        return stagecounts.task_stage_progress(session, task)["parsing"]["done"]


def wait_for(runtime: Runtime, task_id: int, expected: int) -> None:
    started = time.monotonic()
    while done(runtime, task_id) != expected:
        assert time.monotonic() - started < 5, "the background recount never landed"
        time.sleep(0.01)


def test_counts_due_again_are_answered_at_once_and_recounted_in_the_background(
    runtime: Runtime, task_id: int
) -> None:
    assert done(runtime, task_id) == 0
    finish_one(runtime, task_id)
    # counted just now: the same counts a little longer
    assert done(runtime, task_id) == 0
    time.sleep(stagecounts.RECOUNT_SECONDS + 0.05)
    # due: this read answers with what it has, and a recount in the background brings the new count
    assert done(runtime, task_id) == 0
    wait_for(runtime, task_id, 1)
    assert not stagecounts._RECOUNTING


def test_nothing_finished_means_no_recount(runtime: Runtime, task_id: int) -> None:
    assert done(runtime, task_id) == 0
    cached = stagecounts.STAGE_PROGRESS.peek((task_id, "running"))
    time.sleep(stagecounts.RECOUNT_SECONDS + 0.05)
    assert done(runtime, task_id) == 0
    assert stagecounts.STAGE_PROGRESS.peek((task_id, "running")) is cached
    assert not stagecounts._RECOUNTING


def test_a_status_change_recounts_at_once(runtime: Runtime, task_id: int) -> None:
    done(runtime, task_id)
    finish_one(runtime, task_id)
    with runtime.sessions() as session:
        session.execute(
            update(ProcessingTask)
            .where(ProcessingTask.id == task_id)
            .values(status=TaskStatus.CANCELLED)
        )
        session.commit()
    assert done(runtime, task_id) == 1


def test_counts_a_second_old_are_counted_again_in_the_request(
    runtime: Runtime, task_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task read less than once a second (the usual poll) gets fresh counts on each read."""
    monkeypatch.setattr(stagecounts.STAGE_PROGRESS, "seconds", 0.2)
    assert done(runtime, task_id) == 0
    finish_one(runtime, task_id)
    time.sleep(0.25)
    assert done(runtime, task_id) == 1
