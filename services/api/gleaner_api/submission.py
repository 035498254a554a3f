"""Creating a task from a request: validate, write it in one transaction, then enqueue its jobs.

Jobs are enqueued only after the commit, in one pipelined call, so a worker never picks up an item
the database does not have yet. If Redis fails between the commit and the enqueue, the task is kept
and the reconciler enqueues its items when Redis is back (their status says they are queued).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gleaner.aimodels import default_model, usable_model
from gleaner.dependencies import Condition, check_parents, hold, release_ready
from gleaner.errors import InvalidRequest, NotFound
from gleaner.models import (
    AIProcessedContent,
    Link,
    ParsedContent,
    ProcessingTask,
    TaskType,
)
from gleaner.notion_schema import cached_schema, check_properties
from gleaner.queues import Priority, enqueue_item_jobs
from gleaner.runtime import Runtime
from gleaner.settings import Stage
from gleaner.tasks import ItemInput, create_task

log = structlog.get_logger("gleaner.api")


def check_batch_size(settings_limit: int, count: int) -> None:
    if count == 0:
        raise InvalidRequest("the request names no items", code="empty_batch")
    if count > settings_limit:
        raise InvalidRequest(
            f"{count} items is more than the {settings_limit} allowed in one request; split the batch",
            code="batch_too_large",
            details={"limit": settings_limit, "given": count},
        )


def submit(
    session: Session,
    runtime: Runtime,
    *,
    owner: str,
    task_type: TaskType,
    stages: Sequence[Stage],
    inputs: Sequence[ItemInput],
    config: dict[str, Any],
    priority: Priority,
    after: Sequence[int] = (),
    condition: Condition = "completed",
) -> tuple[ProcessingTask, bool]:
    """Create, commit and enqueue a task; returns it and whether its jobs reached the queue now.

    A task with `after` is created waiting (gleaner.dependencies); it starts at once only when every
    task it names has ended already.
    """
    runtime.redis.ping()  # refuse (503) before writing anything when the queue is down
    parents = check_parents(session, owner, after) if after else []
    task, jobs = create_task(
        session,
        owner=owner,
        task_type=task_type,
        stages=stages,
        inputs=inputs,
        config=config,
        max_retries=runtime.settings.max_attempts(stages[0]),
        priority=priority,
    )
    if parents:
        hold(session, task, parents, condition)
        jobs = release_ready(session, [task.id])
    session.commit()
    try:
        enqueue_item_jobs(runtime.redis, runtime.settings, jobs)
    except RedisError as exc:
        log.warning("enqueue_deferred_to_reconciler", task_id=task.id, error=str(exc))
        return task, False
    session.refresh(task)
    return task, True


def owned_ids(
    session: Session,
    model: type[Link] | type[ParsedContent] | type[AIProcessedContent],
    owner: str,
    ids: Sequence[int],
) -> list[int]:
    """`ids` in order without repeats, after checking every one exists and belongs to `owner`."""
    wanted = list(dict.fromkeys(ids))
    if model is Link:
        query = select(Link.id).where(Link.id.in_(wanted), Link.owner == owner)
    elif model is ParsedContent:
        query = (
            select(ParsedContent.id)
            .join(Link)
            .where(ParsedContent.id.in_(wanted), Link.owner == owner)
        )
    else:
        query = (
            select(AIProcessedContent.id)
            .join(
                ParsedContent, AIProcessedContent.parsed_content_id == ParsedContent.id
            )
            .join(Link)
            .where(AIProcessedContent.id.in_(wanted), Link.owner == owner)
        )
    found = set(session.scalars(query))
    missing = [i for i in wanted if i not in found]
    if missing:
        noun = {
            Link: "links",
            ParsedContent: "parsed contents",
            AIProcessedContent: "AI contents",
        }[model]
        raise NotFound(
            f"unknown {noun}: {missing[:20]}",
            code="not_found",
            details={"missing": missing},
        )
    return wanted


def resolve_model(session: Session, owner: str, model_id: int | None) -> int:
    """The AI model a request names, or the owner's default; another tenant's model is not found."""
    model = (
        default_model(session, owner)
        if model_id is None
        else usable_model(session, owner, model_id)
    )
    if model is None and model_id is not None:
        raise NotFound(f"AI model {model_id} does not exist", code="model_not_found")
    if model is None:
        raise InvalidRequest(
            "no default AI model is configured; name a model_id",
            code="no_default_model",
        )
    return model.id


def queued_message(noun: str, task: ProcessingTask, dispatched: bool) -> str:
    if dispatched:
        return f"{noun} queued: {task.total_items} item{'s' if task.total_items != 1 else ''}"
    return f"{noun} accepted: {task.total_items} items; the queue did not answer, so they will be dispatched when it does"


def notion_target(
    runtime: Runtime, database_id: str | None, properties: dict[str, Any]
) -> dict[str, Any]:
    """The Notion part of a task's config, after checking `properties`.

    Their shape is always checked; against the database's schema too when a Notion worker has cached
    it in Redis. Otherwise the worker checks them the same way and fails the item with the same reason.
    """
    target = database_id or runtime.settings.NOTION_DATABASE_ID or None
    schema = cached_schema(runtime.redis, target) if target else None
    problems = check_properties(properties, schema)
    if problems:
        raise InvalidRequest(
            "; ".join(problems),
            code="invalid_notion_properties",
            details={"problems": problems},
        )
    return {"database_id": target, "properties": properties}
