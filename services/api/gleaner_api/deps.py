"""FastAPI dependencies, as Annotated aliases: the runtime, a session per request, the caller's owner."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis import Redis
from sqlalchemy.orm import Session

from gleaner.apikeys import owner_for_key
from gleaner.errors import Unauthorized
from gleaner.runtime import Runtime
from gleaner.settings import Settings


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


def get_redis(runtime: RuntimeDep) -> Redis:
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


def get_owner(
    runtime: RuntimeDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Who is asking: the owner of the bearer key (every object is scoped to it)."""
    if not runtime.settings.AUTH_ENABLED:
        return runtime.settings.BOOTSTRAP_OWNER
    if credentials is None:
        raise Unauthorized(
            "send an API key as `Authorization: Bearer <key>`", code="missing_api_key"
        )
    owner = owner_for_key(session, credentials.credentials)
    if owner is None:
        raise Unauthorized(
            "the API key is not valid or was revoked", code="invalid_api_key"
        )
    session.commit()
    return owner


OwnerDep = Annotated[str, Depends(get_owner)]
