"""FastAPI dependencies, as Annotated aliases: the runtime, a session per request, the caller's owner."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis import Redis
from sqlalchemy.orm import Session

from gleaner.apikeys import Caller
from gleaner.errors import Forbidden
from gleaner.runtime import Runtime
from gleaner.settings import Settings
from gleaner_api.auth import SCOPE_KEY, authenticate
from gleaner_api.schemas import MAX_ID
from gleaner_api.taskviews import MAX_ITEMS_LIMIT

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
"""An id in a path: 1 to 2^63-1 (SQL's 64-bit ids), else 422 naming the parameter."""

MAX_PAGE = 10**9
"""Pages past this would push the SQL offset out of a 64-bit integer; nobody pages that far."""

PageQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]

ItemsAfterQuery = Annotated[
    int,
    Query(
        ge=0,
        le=MAX_ID,
        description="items with an id above this one: the `items_next` of the previous page",
    ),
]
ItemsLimitQuery = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_ITEMS_LIMIT,
        description="items in one answer (a page); `items_next` names the next page",
    ),
]


# Dependencies that only read what is at hand are `async def`: FastAPI runs a plain `def` dependency
# in a threadpool thread, a hop that costs more than the read (a status read had seven such hops).


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


async def get_redis(runtime: RuntimeDep) -> Redis:
    return runtime.redis


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """A session per request. Routers commit once, at their end; anything uncommitted is rolled back."""
    session = runtime.sessions()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


class SessionRoute(APIRoute):
    """A route whose sync endpoint gives its database connection back before its response is built.

    FastAPI validates a sync endpoint's return value in another threadpool thread and closes
    dependencies only after the response is sent. A session still holding its connection then waits
    for a free thread while every thread may be waiting for a connection: the pool deadlock of
    64 clients against 15 connections. Closing the session in the endpoint's own thread (after it
    returned; loaded objects stay readable) breaks that cycle.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _closing_sessions(endpoint), **kwargs)


def _closing_sessions(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(endpoint):
        return endpoint  # async endpoints must not touch the database on the event loop at all

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return endpoint(*args, **kwargs)
        finally:
            for value in kwargs.values():
                if isinstance(value, Session):
                    value.close()

    return run


SettingsDep = Annotated[Settings, Depends(get_settings)]
RedisDep = Annotated[Redis, Depends(get_redis)]
SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(
    auto_error=False, description="An API key: `Authorization: Bearer glr_…`"
)


async def get_caller(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """Who is asking. gleaner_api.auth decided it before the body was read; `credentials` is here so
    the OpenAPI document shows the bearer scheme on every operation."""
    caller: Caller | None = request.scope.get(SCOPE_KEY)
    if caller is None:  # a route outside /api/: authenticate here
        header = f"Bearer {credentials.credentials}" if credentials else None
        caller = await run_in_threadpool(authenticate, runtime, header)
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_owner(caller: CallerDep) -> str:
    """The owner every object the request touches is scoped to."""
    return caller.owner


async def get_operator(caller: CallerDep) -> str:
    """Only for operator keys (`keys create --operator`): figures that span every tenant."""
    if not caller.is_operator:
        raise Forbidden(
            "queue and worker figures span every tenant: they need an operator key",
            code="operator_only",
        )
    return caller.owner


OwnerDep = Annotated[str, Depends(get_owner)]
OperatorDep = Annotated[str, Depends(get_operator)]
