from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from sqlalchemy import func, select
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sse_starlette.sse import EventSourceResponse

from gleaner.db import session_scope
from gleaner.models import ProcessingTask, TaskStatus, TaskType
from gleaner_api.deps import (
    OwnerDep,
    PageQuery,
    PathId,
    RuntimeDep,
    SessionDep,
    SessionRoute,
)
from gleaner_api.openapi import REF, errors
from gleaner_api.schemas import Page, TaskEnvelope, TaskRead
from gleaner_api.taskviews import get_owned_task, render_task

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
        _event("progress", {"$ref": REF + "TaskRead"}),
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
    rows = session.scalars(
        query.order_by(ProcessingTask.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    items = [
        TaskRead.model_validate(render_task(session, runtime.redis, task, False))
        for task in rows
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
) -> TaskEnvelope:
    """A task with its progress per stage, its ETA and (by default) every item."""
    task = get_owned_task(session, owner, task_id)
    return TaskEnvelope.model_validate(
        {
            "task": render_task(
                session, runtime.redis, task, include_items, runtime.settings
            )
        }
    )


@router.get(
    "/{task_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "an event stream (never JSON): `progress` events carry the task as "
            "GET /api/tasks/{task_id} returns it, `end` carries its id and final status",
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
) -> EventSourceResponse:
    """Server-Sent Events: a `progress` event whenever the task changes, then `end` when it finishes."""

    def check_owner() -> None:
        with session_scope(runtime.sessions) as s:
            get_owned_task(s, owner, task_id)

    # 404 before the stream starts. Database work runs in a thread, never on the event loop: a loop
    # blocked on the connection pool would stop every other request from giving its connection back.
    await run_in_threadpool(check_owner)

    def snapshot() -> dict[str, Any]:
        with session_scope(runtime.sessions) as s:
            task = s.get_one(ProcessingTask, task_id)
            body: dict[str, Any] = jsonable_encoder(
                render_task(s, runtime.redis, task, include_items, runtime.settings)
            )
            return body

    async def stream() -> AsyncIterator[dict[str, str]]:
        last = ""
        while not await request.is_disconnected():
            try:
                body = await asyncio.to_thread(snapshot)
            except PoolTimeout:  # every connection busy: look again at the next tick
                await asyncio.sleep(runtime.settings.SSE_POLL_SECONDS)
                continue
            text = json.dumps(body, sort_keys=True)
            if text != last:
                last = text
                yield {"event": "progress", "data": text}
            if body["status"] in FINISHED:
                yield {
                    "event": "end",
                    "data": json.dumps({"id": task_id, "status": body["status"]}),
                }
                return
            await asyncio.sleep(runtime.settings.SSE_POLL_SECONDS)

    return EventSourceResponse(stream(), ping=15)
