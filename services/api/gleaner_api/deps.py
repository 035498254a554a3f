"""FastAPI dependencies, as Annotated aliases: the runtime, a session per request, the caller's owner."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis import Redis
from sqlalchemy.orm import Session

from gleaner.apikeys import owner_for_key
from gleaner.errors import Unauthorized
from gleaner.runtime import Runtime
from gleaner.settings import Settings
from gleaner_api.schemas import MAX_ID

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
"""An id in a path: 1 to 2^63-1 (SQL's 64-bit ids), else 422 naming the parameter."""

MAX_PAGE = 10**9
"""Pages past this would push the SQL offset out of a 64-bit integer; nobody pages that far."""

PageQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]


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
