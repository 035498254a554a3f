"""One error shape for every failure: `{"error": {"code", "message", "details"}}` with a real status.

Expected failures never answer 500: bad input is 4xx, an unreachable Redis or database is 503 with
Retry-After. Only a bug reaches the last handler, which logs it and still answers JSON.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from gleaner.errors import GleanerError, ServiceUnavailable, Unauthorized

log = structlog.get_logger("gleaner.api")


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}},
        status_code=status,
        headers=headers,
    )


async def _gleaner_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GleanerError)
    headers = None
    if isinstance(exc, ServiceUnavailable):
        headers = {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, Unauthorized):
        # RFC 6750: a 401 says which scheme to use, and why the given credentials failed
        invalid = exc.code == "invalid_api_key"
        headers = {
            "WWW-Authenticate": 'Bearer error="invalid_token"' if invalid else "Bearer"
        }
    return error_response(exc.status_code, exc.code, exc.message, exc.details, headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "location": list(err.get("loc", ())),
            "message": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]
    if any(err["type"] == "json_invalid" for err in errors):
        return error_response(
            400, "malformed_json", "the request body is not valid JSON", errors
        )
    summary = "; ".join(
        f"{'.'.join(str(p) for p in e['location'])}: {e['message']}" for e in errors[:5]
    )
    return error_response(
        422, "validation_error", summary or "the request is not valid", errors
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    # 400 here is FastAPI failing to read the body (not UTF-8, say): the same as invalid JSON
    code = {400: "malformed_json", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, f"http_{exc.status_code}"
    )
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return error_response(exc.status_code, code, str(exc.detail), headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path: Starlette's 405 names only the first route's."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _redis_down(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("redis_unavailable", error=str(exc))
    return error_response(
        503,
        "redis_unavailable",
        "the queue (Redis) cannot be reached; try again shortly",
        headers={"Retry-After": "5"},
    )


async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        log.warning("database_unavailable", error=str(exc.orig))
        return error_response(
            503,
            "database_unavailable",
            "the database cannot be reached; try again shortly",
            headers={"Retry-After": "5"},
        )
    log.exception("database_error")
    return error_response(
        500, "internal_error", "the server failed; the error was logged"
    )


async def _pool_exhausted(_request: Request, exc: Exception) -> JSONResponse:
    # Every connection of this process's pool stayed busy for API_POOL_TIMEOUT_SECONDS: overload.
    log.warning("database_pool_exhausted", error=str(exc))
    return error_response(
        503,
        "database_busy",
        "every database connection is busy; try again shortly",
        headers={"Retry-After": "1"},
    )


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_error", exc_info=exc)
    return error_response(
        500, "internal_error", "the server failed; the error was logged"
    )


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GleanerError, _gleaner_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RedisError, _redis_down)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _pool_exhausted)
    app.add_exception_handler(Exception, _unexpected)
