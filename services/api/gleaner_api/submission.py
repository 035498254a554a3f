"""Creating a task from a request: validate, write it in one transaction, then enqueue its jobs.

Jobs are enqueued only after the commit, in one pipelined call, so a worker never picks up an item
the database does not have yet. If Redis fails between the commit and the enqueue, the task is kept
and the reconciler enqueues its items when Redis is back (their status says they are queued).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gleaner.aimodels import default_model, usable_model
from gleaner.dependencies import Condition, check_parents, hold, release_ready
from gleaner.errors import InvalidRequest, NotFound
from gleaner.links import SavedLink, get_or_create_links
from gleaner.models import (
    AIProcessedContent,
    Link,
    ParsedContent,
    ProcessingTask,
    TaskType,
)
from gleaner.notion_schema import cached_schema, check_properties
from gleaner.queues import PIPELINE_STAGES, Priority, enqueue_item_jobs
from gleaner.runtime import Runtime
from gleaner.settings import Stage
from gleaner.tasks import ItemInput, create_task

if TYPE_CHECKING:
    from gleaner_api.schemas import PipelineCreate

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


def _check_stages(stages: Sequence[str]) -> None:
    # Links enter at parsing, and each stage needs the one before it: a prefix of the pipeline.
    if not stages or stages != list(PIPELINE_STAGES[: len(stages)]):
        raise InvalidRequest(
            f"stages must be a prefix of {list(PIPELINE_STAGES)} (links start at parsing); got {stages}",
            code="invalid_stages",
        )


@dataclass(frozen=True)
class PreparedPipeline:
    """A checked pipeline request: its links, and what create_task needs."""

    links: list[SavedLink]
    inputs: list[ItemInput]
    config: dict[str, object]


def prepare_pipeline(
    session: Session, runtime: Runtime, owner: str, body: PipelineCreate
) -> PreparedPipeline:
    """Check a pipeline request and save its links (not committed): shared with schedules."""
    settings = runtime.settings
    _check_stages(body.stages)
    count = len(body.urls or []) + len(body.link_ids or [])
    check_batch_size(settings.MAX_BATCH_SIZE, count)
    links, _ = get_or_create_links(
        session, owner, body.urls or [], settings.MAX_URL_LENGTH
    )
    if body.link_ids:
        ids = owned_ids(session, Link, owner, body.link_ids)
        known = {link.id for link in links}
        for link_id in ids:
            if link_id not in known:
                link = session.get_one(Link, link_id)
                links.append(
                    SavedLink(link.id, link.url, link.normalized_url, link.created_at)
                )
    config = pipeline_config(session, runtime, owner, body)
    inputs = [
        ItemInput(item_id=link.id, item_type="link", link_id=link.id) for link in links
    ]
    return PreparedPipeline(links, inputs, config)


def pipeline_config(
    session: Session, runtime: Runtime, owner: str, body: PipelineCreate
) -> dict[str, object]:
    """The task config of a pipeline's options (stages, model, Notion target), checked; writes nothing:
    a feed schedule checks its options with it at creation, before any entry is known."""
    _check_stages(body.stages)
    config: dict[str, object] = {
        "processing_config": body.processing_config.model_dump()
    }
    if "ai" in body.stages:
        config["model_id"] = resolve_model(session, owner, body.model_id)
    # Checked even when the notion stage does not run: a bad value is refused wherever it is given.
    notion = notion_target(runtime, body.notion.database_id, body.notion.properties)
    if "notion" in body.stages:
        config["notion"] = notion
    return config
