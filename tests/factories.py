"""Factories: `create_<thing>(session, **overrides)`; `submit_task` creates and enqueues like the API does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from gleaner.db import session_scope
from gleaner.models import Link, ProcessingTask, TaskType
from gleaner.queues import Priority, enqueue_item_jobs
from gleaner.runtime import Runtime
from gleaner.settings import Stage
from gleaner.tasks import ItemInput, create_task


def create_link(
    session: Session, url: str = "https://example.com/a", owner: str = "test"
) -> Link:
    link = Link(owner=owner, url=url, normalized_url=url)
    session.add(link)
    session.flush()
    return link


def submit_task(
    runtime: Runtime,
    inputs: Sequence[ItemInput] | None = None,
    *,
    urls: Sequence[str] = (),
    stages: Sequence[Stage] = ("parsing",),
    owner: str = "test",
    config: dict[str, Any] | None = None,
    job_path: str | None = None,
    task_type: TaskType | None = None,
    priority: Priority = "normal",
) -> int:
    """A task over `inputs` (or new links for `urls`), committed, its jobs enqueued; returns its id.

    `job_path` replaces the stage's job with an importable test job (tests.jobs), as RQ allows.
    """
    with session_scope(runtime.sessions) as session:
        given = list(inputs or [])
        for url in urls:
            link = create_link(session, url, owner)
            given.append(ItemInput(item_id=link.id, item_type="link", link_id=link.id))
        kind = task_type or (
            TaskType.PIPELINE if len(stages) > 1 else TaskType(stages[0])
        )
        task, jobs = create_task(
            session,
            owner=owner,
            task_type=kind,
            stages=stages,
            inputs=given,
            config=config,
            max_retries=runtime.settings.max_attempts(stages[0]),
            priority=priority,
        )
        task_id = task.id
    if job_path is not None:
        from dataclasses import replace

        jobs = [replace(job, job_path=job_path) for job in jobs]
    enqueue_item_jobs(runtime.redis, runtime.settings, jobs)
    return task_id


def get_task(runtime: Runtime, task_id: int) -> ProcessingTask:
    with session_scope(runtime.sessions) as session:
        task = session.get_one(ProcessingTask, task_id)
        task.items  # noqa: B018 - load the items before the session closes
        return task
