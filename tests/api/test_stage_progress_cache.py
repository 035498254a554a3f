"""A running task's per-stage counts: counted again when items finish, but at most every
RECOUNT_SECONDS per process, and at once when the task's status changes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from gleaner import progress
from gleaner_api import taskviews


@dataclass
class FakeTask:
    id: int
    status: str = "running"
    completed_items: int = 0
    failed_items: int = 0
    cancelled_items: int = 0


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each recount appends the task's completed_items at the time."""
    taskviews.STAGE_PROGRESS.clear()
    seen: list[int] = []

    def count(_session: Any, task: FakeTask) -> dict[str, dict[str, int]]:
        seen.append(task.completed_items)
        return {"parsing": {"done": task.completed_items}}

    monkeypatch.setattr(progress, "stage_progress", count)
    return seen


def read(task: FakeTask) -> int:
    return taskviews.task_stage_progress(None, task)["parsing"]["done"]  # type: ignore[arg-type]


def test_items_finishing_between_reads_recount_at_most_every_recount_seconds(
    counts: list[int],
) -> None:
    task = FakeTask(1)
    assert read(task) == 0
    task.completed_items = 1
    assert read(task) == 0  # counted just now: the same counts a little longer
    time.sleep(taskviews.RECOUNT_SECONDS + 0.05)
    assert read(task) == 1
    assert read(task) == 1  # nothing finished since: no recount
    assert counts == [0, 1]


def test_a_status_change_recounts_at_once(counts: list[int]) -> None:
    task = FakeTask(2)
    read(task)
    task.completed_items, task.status = 5, "completed"
    assert read(task) == 5
    assert counts == [0, 5]
