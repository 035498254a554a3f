"""Probes: /healthz says the process serves; /readyz says its database and Redis answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gleaner_api.deps import RuntimeDep
from gleaner_api.monitoring_models import Alive, Ready
from gleaner_api.openapi import error_response

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Alive)
def healthz() -> dict[str, str]:
    """Liveness: the process answers (no key needed, nothing else checked)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Ready,
    responses={503: error_response(503, ["not_ready"])},
)
def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Readiness: the database and Redis answer (no key needed); 503 names the one that does not."""
    checks: dict[str, Any] = {}
    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        runtime.redis.ping()
        checks["redis"] = "ok"
    except RedisError as exc:
        checks["redis"] = f"unavailable: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    if ready:
        return JSONResponse({"status": "ready", "checks": checks})
    return JSONResponse(
        {
            "error": {
                "code": "not_ready",
                "message": "a dependency is unavailable",
                "details": checks,
            }
        },
        status_code=503,
        headers={"Retry-After": "5"},
    )
