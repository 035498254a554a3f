"""Monitoring as in the original design. Reads only: nothing here cleans or changes RQ's registries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.registry import (
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from sqlalchemy import case, func, select

from gleaner.models import ProcessingTask, TaskItem, TaskStatus
from gleaner.queues import PRIORITIES, QUEUES
from gleaner.retries import RetryStrategy
from gleaner_api.deps import (
    CallerDep,
    OperatorDep,
    OwnerDep,
    RedisDep,
    SessionDep,
    SessionRoute,
    SettingsDep,
)
from gleaner_api.monitoring_models import (
    HealthFigures,
    HealthReport,
    QueuesRead,
    StageHealth,
    StatisticsRead,
    WorkersRead,
    WorkerTotals,
)
from gleaner_api.openapi import REF, errors

router = APIRouter(
    prefix="/api/monitoring", tags=["monitoring"], route_class=SessionRoute
)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def describe_workers(redis: RedisDep) -> list[dict[str, Any]]:
    workers = []
    for worker in Worker.all(connection=redis):
        workers.append(
            {
                "name": worker.name,
                "queues": worker.queue_names(),
                "state": str(worker.get_state()),
                "current_job": worker.get_current_job_id(),
                "successful_job_count": worker.successful_job_count,
                "failed_job_count": worker.failed_job_count,
                "total_working_time": worker.total_working_time,
                "birth_date": _iso(worker.birth_date),
                "last_heartbeat": _iso(worker.last_heartbeat),
            }
        )
    return sorted(workers, key=lambda w: w["name"])


def describe_queues(redis: RedisDep) -> dict[str, dict[str, Any]]:
    queues: dict[str, dict[str, Any]] = {}
    for spec in QUEUES.values():
        for priority, name in zip(PRIORITIES, spec.lanes, strict=True):
            queue = Queue(name, connection=redis)
            # get_job_count(cleanup=False): RQ's `.count` would clean the registry, and reads must not write
            queues[name] = {
                "name": name,
                "stage": spec.stage,
                "priority": priority,
                "count": queue.count,
                "started_job_registry": StartedJobRegistry(queue=queue).get_job_count(
                    cleanup=False
                ),
                "scheduled_job_registry": ScheduledJobRegistry(  # type: ignore[no-untyped-call]
                    queue=queue
                ).get_job_count(cleanup=False),
                "finished_job_registry": FinishedJobRegistry(queue=queue).get_job_count(
                    cleanup=False
                ),
                "failed_job_registry": FailedJobRegistry(queue=queue).get_job_count(
                    cleanup=False
                ),
            }
    return queues


OPERATOR_ONLY = errors({403: ("operator_only",)}, validated=False)


@router.get("/workers", response_model=WorkersRead, responses=OPERATOR_ONLY)
def workers(redis: RedisDep, _operator: OperatorDep) -> dict[str, Any]:
    """Every RQ worker (operator keys only: workers serve every tenant)."""
    found = describe_workers(redis)
    return {"success": True, "workers": found, "total_workers": len(found)}


@router.get("/queues", response_model=QueuesRead, responses=OPERATOR_ONLY)
def queues(
    redis: RedisDep, settings: SettingsDep, _operator: OperatorDep
) -> dict[str, Any]:
    """Every lane of every stage (high, normal, low) and each stage's retry strategy.

    Operator keys only: the queues hold every tenant's jobs."""
    return {
        "success": True,
        "queues": describe_queues(redis),
        "retry_strategies": {
            stage: RetryStrategy.of(settings, stage).describe() for stage in QUEUES
        },
        "low_lane_every": settings.WORKER_LOW_LANE_EVERY,
    }


@router.get(
    "/statistics", response_model=StatisticsRead, responses=errors(validated=False)
)
def statistics(session: SessionDep, owner: OwnerDep) -> dict[str, Any]:
    """Task and item totals of the caller, overall and by task type."""
    t = ProcessingTask
    rows = session.execute(
        select(
            t.type,
            func.count(),
            func.sum(case((t.status == TaskStatus.COMPLETED, 1), else_=0)),
            func.sum(
                case(
                    (t.status.in_([TaskStatus.FAILED, TaskStatus.PARTIALLY_FAILED]), 1),
                    else_=0,
                )
            ),
            func.sum(
                case(
                    (t.status.in_([TaskStatus.QUEUED, TaskStatus.RUNNING]), 1), else_=0
                )
            ),
            func.sum(t.completed_items),
            func.sum(t.failed_items),
        )
        .where(t.owner == owner)
        .group_by(t.type)
    ).all()
    names = {
        "parsing": "parsing",
        "ai": "ai_processing",
        "notion": "notion_import",
        "pipeline": "pipeline",
    }
    by_type = {
        names[r[0]]: {
            "total": r[1],
            "completed": int(r[2] or 0),
            "failed": int(r[3] or 0),
            "running": int(r[4] or 0),
        }
        for r in rows
    }
    running_items = session.scalar(
        select(func.count())
        .select_from(TaskItem)
        .join(t)
        .where(t.owner == owner, TaskItem.status == "running")
    )
    return {
        "success": True,
        "statistics": {
            "total_tasks": sum(r[1] for r in rows),
            "completed_tasks": sum(int(r[2] or 0) for r in rows),
            "failed_tasks": sum(int(r[3] or 0) for r in rows),
            "running_tasks": sum(int(r[4] or 0) for r in rows),
            "by_type": by_type,
            "total_items_processed": sum(int(r[5] or 0) for r in rows),
            "total_items_failed": sum(int(r[6] or 0) for r in rows),
            "running_items": running_items or 0,
        },
    }


@router.get(
    "/health",
    response_model=HealthReport,
    responses={
        **errors(validated=False),
        503: {
            "description": "unhealthy (the same body: Redis down, or work waiting with no "
            "worker), or the database is unreachable (the error body)",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": REF + "HealthReport"},
                            errors(validated=False)[503]["content"]["application/json"][
                                "schema"
                            ],
                        ]
                    }
                }
            },
        },
    },
)
def health(redis: RedisDep, caller: CallerDep) -> JSONResponse:
    """Redis, workers and queues at a glance; 503 when Redis is down or a stage has work and no worker.

    Every key sees whether each stage is healthy; the figures behind it (jobs waiting, workers, the
    Redis version) span every tenant, so only operator keys see them (null for tenants)."""
    report = _health(redis, caller.is_operator)
    return JSONResponse(
        report.model_dump(mode="json"), status_code=200 if report.healthy else 503
    )


def _health(redis: RedisDep, operator: bool) -> HealthReport:
    try:
        info = redis.info("server")
        found = describe_workers(redis)
        queue_info = describe_queues(redis)
    except RedisError as exc:
        figures = HealthFigures(
            redis="disconnected",
            redis_version=None,
            error=str(exc) if operator else None,
            workers=None,
            queues_healthy=False,
            queues={},
        )
        return HealthReport(success=False, healthy=False, health=figures)
    busy = sum(1 for w in found if w["state"] == "busy")
    stages = {}
    for spec in QUEUES.values():
        pending = sum(queue_info[lane]["count"] for lane in spec.lanes)
        listening = sum(1 for w in found if spec.name in w["queues"])
        stages[spec.name] = StageHealth(
            healthy=pending == 0 or listening > 0,
            pending=pending if operator else None,
            workers=listening if operator else None,
        )
    healthy = all(stage.healthy for stage in stages.values())
    totals = WorkerTotals(
        total=len(found), active=len(found), busy=busy, idle=len(found) - busy
    )
    figures = HealthFigures(
        redis="connected",
        redis_version=info.get("redis_version") if operator else None,
        workers=totals if operator else None,
        queues_healthy=healthy,
        queues=stages,
    )
    return HealthReport(success=True, healthy=healthy, health=figures)
