"""The per-stage endpoints of the original design: /api/{parsing,ai,notion}/async/…

batch and single create a one-stage task over existing records; status, cancel and retry act on any
task of the caller (the same as /api/tasks/{id}, kept at these paths for the original clients).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from gleaner import tasks
from gleaner.dependencies import OnParentCancel, cancel_parent
from gleaner.errors import Conflict
from gleaner.models import AIProcessedContent, Link, ParsedContent, TaskStatus, TaskType
from gleaner.queues import cancel_jobs, enqueue_item_jobs
from gleaner.settings import Stage
from gleaner.tasks import ItemInput
from gleaner_api.deps import OwnerDep, PathId, RuntimeDep, SessionDep, SessionRoute
from gleaner_api.openapi import BATCH_CODES, PARENT_CODES, errors
from gleaner_api.schemas import (
    AIBatch,
    AISingle,
    NotionBatch,
    NotionSingle,
    ParsingBatch,
    TaskCancelled,
    TaskEnvelope,
    TaskOptions,
    TaskQueued,
    TaskRetried,
)
from gleaner_api.submission import (
    check_batch_size,
    notion_target,
    owned_ids,
    queued_message,
    resolve_model,
    submit,
)
from gleaner_api.taskviews import get_owned_task, render_task

parsing = APIRouter(
    prefix="/api/parsing/async", tags=["parsing"], route_class=SessionRoute
)
ai = APIRouter(prefix="/api/ai/async", tags=["ai"], route_class=SessionRoute)
notion = APIRouter(
    prefix="/api/notion/async", tags=["notion"], route_class=SessionRoute
)


def _queue_stage(
    session: SessionDep,
    runtime: RuntimeDep,
    owner: str,
    stage: Stage,
    inputs: list[ItemInput],
    config: dict[str, Any],
    options: TaskOptions,
    noun: str,
) -> TaskQueued:
    task, dispatched = submit(
        session,
        runtime,
        owner=owner,
        task_type=TaskType(stage),
        stages=[stage],
        inputs=inputs,
        config=config,
        priority=options.priority,
        after=options.after,
        condition=options.condition,
    )
    return TaskQueued(
        task_id=task.id,
        job_id=task.job_id,
        total_items=task.total_items,
        status=TaskStatus(task.status),
        message=queued_message(noun, task, dispatched),
        stages=task.stages,
    )


# --- parsing ----------------------------------------------------------------------------------------


def _parse(
    session: SessionDep,
    runtime: RuntimeDep,
    owner: str,
    link_ids: list[int],
    options: TaskOptions,
) -> TaskQueued:
    check_batch_size(runtime.settings.MAX_BATCH_SIZE, len(link_ids))
    ids = owned_ids(session, Link, owner, link_ids)
    inputs = [ItemInput(item_id=i, item_type="link", link_id=i) for i in ids]
    return _queue_stage(
        session,
        runtime,
        owner,
        "parsing",
        inputs,
        {},
        options,
        "Parsing batch",
    )


@parsing.post(
    "/batch",
    status_code=202,
    response_model=TaskQueued,
    responses=errors(
        {404: ("not_found",), 422: (*BATCH_CODES, *PARENT_CODES)}, body=True
    ),
)
def parse_batch(
    body: ParsingBatch, session: SessionDep, runtime: RuntimeDep, owner: OwnerDep
) -> TaskQueued:
    """Parse saved links (fetch, extract the article); one task, one item per link."""
    return _parse(session, runtime, owner, body.link_ids, body)


@parsing.post(
    "/single/{link_id}",
    status_code=202,
    response_model=TaskQueued,
    responses=errors({404: ("not_found",)}),
)
def parse_single(
    link_id: PathId, session: SessionDep, runtime: RuntimeDep, owner: OwnerDep
) -> TaskQueued:
    """Parse one saved link."""
    return _parse(session, runtime, owner, [link_id], TaskOptions())


# --- ai ---------------------------------------------------------------------------------------------


def _process(
    session: SessionDep,
    runtime: RuntimeDep,
    owner: str,
    ids: list[int],
    body: AISingle | AIBatch,
) -> TaskQueued:
    check_batch_size(runtime.settings.MAX_BATCH_SIZE, len(ids))
    ids = owned_ids(session, ParsedContent, owner, ids)
    config = {
        "model_id": resolve_model(session, owner, body.model_id),
        "processing_config": body.processing_config.model_dump(),
    }
    inputs = [
        ItemInput(item_id=i, item_type="parsed_content", parsed_content_id=i)
        for i in ids
    ]
    return _queue_stage(
        session,
        runtime,
        owner,
        "ai",
        inputs,
        config,
        body,
        "AI batch",
    )


AI_ERRORS: dict[int, tuple[str, ...]] = {
    404: ("not_found", "model_not_found"),
    422: (*BATCH_CODES, "no_default_model", *PARENT_CODES),
}


@ai.post(
    "/batch",
    status_code=202,
    response_model=TaskQueued,
    responses=errors(AI_ERRORS, body=True),
)
def ai_batch(
    body: AIBatch, session: SessionDep, runtime: RuntimeDep, owner: OwnerDep
) -> TaskQueued:
    """Summarise parsed contents with a model (`model_id`, or the caller's default)."""
    return _process(session, runtime, owner, body.parsed_content_ids, body)


@ai.post(
    "/single/{parsed_content_id}",
    status_code=202,
    response_model=TaskQueued,
    responses=errors(AI_ERRORS, body=True),
)
def ai_single(
    parsed_content_id: PathId,
    session: SessionDep,
    runtime: RuntimeDep,
    owner: OwnerDep,
    body: Annotated[AISingle | None, Body()] = None,
) -> TaskQueued:
    """Summarise one parsed content; the body is optional."""
    return _process(session, runtime, owner, [parsed_content_id], body or AISingle())


# --- notion -----------------------------------------------------------------------------------------


def _file(
    session: SessionDep,
    runtime: RuntimeDep,
    owner: str,
    ids: list[int],
    body: NotionSingle | NotionBatch,
) -> TaskQueued:
    check_batch_size(runtime.settings.MAX_BATCH_SIZE, len(ids))
    config = {"notion": notion_target(runtime, body.database_id, body.properties)}
    ids = owned_ids(session, AIProcessedContent, owner, ids)
    inputs = [
        ItemInput(item_id=i, item_type="ai_content", ai_content_id=i) for i in ids
    ]
    return _queue_stage(
        session,
        runtime,
        owner,
        "notion",
        inputs,
        config,
        body,
        "Notion import",
    )


NOTION_ERRORS: dict[int, tuple[str, ...]] = {
    404: ("not_found",),
    422: (*BATCH_CODES, "invalid_notion_properties", *PARENT_CODES),
}


@notion.post(
    "/batch",
    status_code=202,
    response_model=TaskQueued,
    responses=errors(NOTION_ERRORS, body=True),
)
def notion_batch(
    body: NotionBatch, session: SessionDep, runtime: RuntimeDep, owner: OwnerDep
) -> TaskQueued:
    """File AI contents as Notion pages (a dry run, stored not sent, when no token is set)."""
    return _file(session, runtime, owner, body.ai_content_ids, body)


@notion.post(
    "/single/{ai_content_id}",
    status_code=202,
    response_model=TaskQueued,
    responses=errors(NOTION_ERRORS, body=True),
)
def notion_single(
    ai_content_id: PathId,
    session: SessionDep,
    runtime: RuntimeDep,
    owner: OwnerDep,
    body: Annotated[NotionSingle | None, Body()] = None,
) -> TaskQueued:
    """File one AI content as a Notion page; the body is optional."""
    return _file(session, runtime, owner, [ai_content_id], body or NotionSingle())


# --- status, cancel, retry: the same for every stage -------------------------------------------------


def task_status(
    task_id: PathId,
    session: SessionDep,
    runtime: RuntimeDep,
    owner: OwnerDep,
    include_items: Annotated[bool, Query()] = False,
) -> TaskEnvelope:
    """Any task of the caller (the same as GET /api/tasks/{task_id}, items only when asked)."""
    task = get_owned_task(session, owner, task_id)
    return TaskEnvelope.model_validate(
        {
            "task": render_task(
                session, runtime.redis, task, include_items, runtime.settings
            )
        }
    )


def cancel_task(
    task_id: PathId,
    session: SessionDep,
    runtime: RuntimeDep,
    owner: OwnerDep,
    dependants: Annotated[
        OnParentCancel,
        Query(
            description="tasks waiting for this one (`after`): `cancel` them too "
            "(transitively), or `release` them from waiting for it"
        ),
    ] = "cancel",
) -> TaskCancelled:
    """Cancel: queued jobs leave Redis, running ones stop at their next checkpoint."""
    task = get_owned_task(session, owner, task_id)
    runtime.redis.ping()
    unfinished = tasks.cancel_task(session, task)
    affected, released_jobs = cancel_parent(session, task, dependants)
    session.commit()
    cancel_jobs(
        runtime.redis, task.id, [item.job_id for item in unfinished if item.job_id]
    )
    enqueue_item_jobs(runtime.redis, runtime.settings, released_jobs)
    return TaskCancelled(
        task_id=task.id,
        status=TaskStatus(task.status),
        cancelled_items=len(unfinished),
        message=f"cancelled {len(unfinished)} unfinished item{'s' if len(unfinished) != 1 else ''}",
        cancelled_dependants=affected if dependants == "cancel" else [],
        released_dependants=affected if dependants == "release" else [],
    )


def retry_task(
    task_id: PathId, session: SessionDep, runtime: RuntimeDep, owner: OwnerDep
) -> TaskRetried:
    """Queue the failed items again at the stage they failed in; completed ones are left alone."""
    task = get_owned_task(session, owner, task_id)
    if task.status == TaskStatus.CANCELLED:
        raise Conflict(
            f"task {task.id} was cancelled; submit its links again instead",
            code="task_cancelled",
        )
    runtime.redis.ping()
    jobs = tasks.retry_failed(session, task)
    session.commit()
    enqueue_item_jobs(runtime.redis, runtime.settings, jobs)
    session.refresh(task)
    return TaskRetried(
        task_id=task.id,
        status=TaskStatus(task.status),
        retried_count=len(jobs),
        message=f"retrying {len(jobs)} failed item{'s' if len(jobs) != 1 else ''}",
    )


for _router in (parsing, ai, notion):
    _router.add_api_route(
        "/status/{task_id}",
        task_status,
        methods=["GET"],
        response_model=TaskEnvelope,
        responses=errors({404: ("task_not_found",)}),
    )
    _router.add_api_route(
        "/cancel/{task_id}",
        cancel_task,
        methods=["DELETE"],
        response_model=TaskCancelled,
        responses=errors({404: ("task_not_found",)}),
    )
    _router.add_api_route(
        "/retry/{task_id}",
        retry_task,
        methods=["POST"],
        response_model=TaskRetried,
        responses=errors({404: ("task_not_found",), 409: ("task_cancelled",)}),
    )
