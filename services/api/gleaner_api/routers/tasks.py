from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sse_starlette.sse import EventSourceResponse

from gleaner import progress
from gleaner.db import session_scope
from gleaner.models import ProcessingTask, TaskStatus, TaskType
from gleaner_api.deps import (
    ItemsAfterQuery,
    ItemsLimitQuery,
    OwnerDep,
    PageQuery,
    PathId,
    RuntimeDep,
    SessionDep,
    SessionRoute,
)
from gleaner_api.openapi import REF, errors
from gleaner_api.schemas import Page, TaskEnvelope, TaskRead
from gleaner_api.taskevents import TaskEvents
from gleaner_api.taskviews import (
    DEFAULT_ITEMS_LIMIT,
    ItemPage,
    get_owned_task,
    render_task,
)

router = APIRouter(prefix="/api/tasks", tags=["tasks"], route_class=SessionRoute)


def _event(name: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": name},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": payload,
            },
        },
    }


TASK_EVENT = {
    "description": "one event of the stream (the schema describes each event, not the stream)",
    "anyOf": [
        _event(
            "progress",
            {
                "allOf": [
                    {"$ref": REF + "TaskRead"},
                    {
                        "type": "object",
                        "required": ["delta"],
                        "properties": {
                            "delta": {
                                "type": "boolean",
                                "description": "false: a snapshot; true: `items` holds only "
                                "the items changed since the event before",
                            }
                        },
                    },
                ]
            },
        ),
        _event(
            "end",
            {
                "type": "object",
                "required": ["id", "status"],
                "properties": {
                    "id": {"type": "integer"},
                    "status": {"$ref": REF + "TaskStatus"},
                },
            },
        ),
    ],
}

FINISHED = {
    TaskStatus.COMPLETED,
    TaskStatus.FAILED,
    TaskStatus.PARTIALLY_FAILED,
    TaskStatus.CANCELLED,
}


@router.get("", response_model=Page[TaskRead], responses=errors())
def list_tasks(
    session: SessionDep,
    runtime: RuntimeDep,
    owner: OwnerDep,
    status: TaskStatus | None = None,
    type: TaskType | None = None,
    page: PageQuery = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[TaskRead]:
    """The caller's tasks, newest first, without their items; filter by status and type."""
    query = select(ProcessingTask).where(ProcessingTask.owner == owner)
    if status is not None:
        query = query.where(ProcessingTask.status == status)
    if type is not None:
        query = query.where(ProcessingTask.type == type)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    tasks = list(
        session.scalars(
            query.order_by(ProcessingTask.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    )
    # every task's per-stage counts in one query, not one each
    stages = progress.stage_progress_of(session, tasks) if tasks else {}
    items = [
        TaskRead.model_validate(
            render_task(
                session,
                runtime.redis,
                task,
                False,
                runtime.settings,
                None,
                stages[task.id],
            )
        )
        for task in tasks
    ]
    return Page(items=items, total=total, page=page, page_size=page_size)


@router.get(
    "/{task_id}",
    response_model=TaskEnvelope,
    responses=errors({404: ("task_not_found",)}),
)
def get_task(
    task_id: PathId,
    session: SessionDep,
    runtime: RuntimeDep,
    owner: OwnerDep,
    include_items: Annotated[bool, Query()] = True,
    items_after: ItemsAfterQuery = 0,
    items_limit: ItemsLimitQuery = DEFAULT_ITEMS_LIMIT,
) -> TaskEnvelope:
    """A task with its counts, per-stage progress and ETA, and one page of its items (in id order):
    follow `items_next` with `items_after` for the next page."""
    task = get_owned_task(session, owner, task_id)
    return TaskEnvelope.model_validate(
        {
            "task": render_task(
                session,
                runtime.redis,
                task,
                include_items,
                runtime.settings,
                ItemPage(items_after, items_limit),
            )
        }
    )


@router.get(
    "/{task_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "an event stream (never JSON): `progress` events carry the task as "
            "GET /api/tasks/{task_id} returns it, plus `delta`: the first (`delta: false`) has the "
            "first page of items, each later one (`delta: true`) only the items changed since the "
            "event before (merge them by id); `end` carries its id and final status",
            "content": {
                "text/event-stream": {
                    "schema": TASK_EVENT,
                    "example": 'event: progress\ndata: {"id": 7, "status": "running", "progress": 40}\n\n'
                    'event: end\ndata: {"id": 7, "status": "completed"}\n\n',
                }
            },
        },
        **errors({404: ("task_not_found",)}),
    },
)
async def task_events(
    task_id: PathId,
    request: Request,
    runtime: RuntimeDep,
    owner: OwnerDep,
    include_items: Annotated[bool, Query()] = True,
    items_limit: ItemsLimitQuery = DEFAULT_ITEMS_LIMIT,
) -> EventSourceResponse:
    """Server-Sent Events: `progress` when the task changes, then `end` when it finishes.

    The first `progress` is the task with the first page of its items (`delta: false`); each later
    one has the counts again and, in `items`, only the items changed since (`delta: true`).
    """

    def check_owner() -> None:
        with session_scope(runtime.sessions) as s:
            get_owned_task(s, owner, task_id)

    # 404 before the stream starts. Database work runs in a thread, never on the event loop: a loop
    # blocked on the connection pool would stop every other request from giving its connection back.
    await run_in_threadpool(check_owner)
    events = TaskEvents(task_id, include_items, ItemPage(0, items_limit))

    def next_event() -> dict[str, Any] | None:
        with session_scope(runtime.sessions) as s:
            return events.next_event(s, runtime.redis, runtime.settings)

    async def stream() -> AsyncIterator[dict[str, str]]:
        while not await request.is_disconnected():
            try:
                body = await asyncio.to_thread(next_event)
            except PoolTimeout:  # every connection busy: look again at the next tick
                await asyncio.sleep(runtime.settings.SSE_POLL_SECONDS)
                continue
            if body is not None:
                yield {"event": "progress", "data": json.dumps(body, sort_keys=True)}
            status = events.last_status
            if status in FINISHED:
                yield {
                    "event": "end",
                    "data": json.dumps({"id": task_id, "status": status}),
                }
                return
            await asyncio.sleep(runtime.settings.SSE_POLL_SECONDS)

    return EventSourceResponse(stream(), ping=15)
