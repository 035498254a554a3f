"""A task's per-stage counts for its status: kept per process, and counted again off the request path
while the task runs."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import structlog
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from gleaner import progress
from gleaner.models import ProcessingTask
from gleaner_api.readcache import TtlCache

log = structlog.get_logger("gleaner.api")

Key = tuple[int, str]
"""A task's id and status: a status change is a new key, so it is counted at once."""

STAGE_PROGRESS = TtlCache[tuple[tuple[int, int, int], dict[str, dict[str, int]]]](
    seconds=1.0, max_entries=1024
)
"""A task's per-stage counts with the finished counts they were counted at, per task and status."""

RECOUNT_SECONDS = 0.25
"""While a task runs, its per-stage counts are counted again at most this often per process.

Counted again when its finished counts change, else at most every second; but while workers finish
items all the time the finished counts change between nearly every two reads, and at 200 status
reads a second each would recount a 10,000-item task (4-6 ms on SQLite, 30-40 ms on PostgreSQL
while workers update its rows: the largest part of a read without items). So a running task's counts
may lag its finished counts by up to this long, plus one recount; a status change (the task ending)
counts again at once."""

_RECOUNTS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage-recount")
"""Recounts of counts already shown, off the request path: one at a time per process."""
_RECOUNTING: set[Key] = set()
_RECOUNTING_LOCK = threading.Lock()


def task_stage_progress(
    session: Session, task: ProcessingTask
) -> dict[str, dict[str, int]]:
    """The task's per-stage counts: an item moving between stages or starting to run shows within a
    second, an item's end within RECOUNT_SECONDS (plus one recount), the task's end at once.

    Counts that exist but are due again are answered as they are while one recount runs in the
    background: at 200 reads a second of one task, every 50th read would otherwise wait for it."""
    key = (task.id, str(task.status))
    found = STAGE_PROGRESS.peek(key)
    if found is None:
        return _count(session, task, key)
    counted_at, stages = found
    if counted_at != _finished(task) and not STAGE_PROGRESS.peek(key, RECOUNT_SECONDS):
        _recount_later(session, key)
    return stages


def _finished(task: ProcessingTask) -> tuple[int, int, int]:
    return (task.completed_items, task.failed_items, task.cancelled_items)


def _count(
    session: Session, task: ProcessingTask, key: Key
) -> dict[str, dict[str, int]]:
    """Count now, and keep the counts with the finished counts they were counted at."""
    stages = progress.stage_progress(session, task)
    STAGE_PROGRESS.put(key, (_finished(task), stages))
    return stages


def _recount_later(session: Session, key: Key) -> None:
    with _RECOUNTING_LOCK:
        if key in _RECOUNTING:
            return
        _RECOUNTING.add(key)
    _RECOUNTS.submit(_recount, session.get_bind(), key)


def _recount(bind: Engine | Connection, key: Key) -> None:
    try:
        with Session(bind) as session:
            task = session.get(ProcessingTask, key[0])
            if task is not None and str(task.status) == key[1]:
                _count(session, task, key)
    except Exception:  # the next read counts again; a lost recount costs nothing else
        log.warning("stage_recount_failed", task_id=key[0], exc_info=True)
    finally:
        with _RECOUNTING_LOCK:
            _RECOUNTING.discard(key)
