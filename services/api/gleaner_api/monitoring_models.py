"""Response bodies of the probes and /api/monitoring: typed, so the contract says what each figure is."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gleaner.queues import Priority
from gleaner.settings import Stage


class Alive(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}
            ]
        }
    )

    status: Literal["ready"] = "ready"
    checks: dict[str, str] = Field(description="each dependency: ok")


class WorkerRead(BaseModel):
    name: str
    queues: list[str]
    state: str = Field(
        description="RQ's state: started, idle, busy, suspended, …", examples=["busy"]
    )
    current_job: str | None
    successful_job_count: int
    failed_job_count: int
    total_working_time: float = Field(description="seconds")
    birth_date: str | None = Field(description="ISO 8601")
    last_heartbeat: str | None = Field(description="ISO 8601")


class WorkersRead(BaseModel):
    success: bool = True
    workers: list[WorkerRead]
    total_workers: int


class QueueRead(BaseModel):
    name: str = Field(examples=["parsing:high"])
    stage: Stage
    priority: Priority
    count: int = Field(description="jobs waiting")
    started_job_registry: int
    scheduled_job_registry: int = Field(description="delayed retries waiting")
    finished_job_registry: int
    failed_job_registry: int


class QueuesRead(BaseModel):
    success: bool = True
    queues: dict[str, QueueRead] = Field(description="every lane, by queue name")
    retry_strategies: dict[str, dict[str, Any]] = Field(
        description="each stage's attempts and delays"
    )
    low_lane_every: int = Field(
        description="a worker takes from the low lane at least every this many jobs"
    )


class TypeTotals(BaseModel):
    total: int
    completed: int
    failed: int
    running: int


class Statistics(BaseModel):
    total_tasks: int
    completed_tasks: int
    failed_tasks: int
    running_tasks: int
    by_type: dict[
        Literal["parsing", "ai_processing", "notion_import", "pipeline"], TypeTotals
    ]
    total_items_processed: int
    total_items_failed: int
    running_items: int


class StatisticsRead(BaseModel):
    success: bool = True
    statistics: Statistics


class WorkerTotals(BaseModel):
    total: int
    active: int
    busy: int
    idle: int


class StageHealth(BaseModel):
    healthy: bool = Field(description="no work waits without a worker to take it")
    pending: int | None = Field(
        description="jobs waiting, all tenants' (operator keys only; null for tenants)"
    )
    workers: int | None = Field(
        description="workers listening (operator keys only; null for tenants)"
    )


class HealthFigures(BaseModel):
    redis: Literal["connected", "disconnected"]
    redis_version: str | None = Field(description="operator keys only")
    error: str | None = Field(
        default=None, description="why Redis is unreachable (operator keys only)"
    )
    workers: WorkerTotals | None = Field(description="operator keys only")
    queues_healthy: bool
    queues: dict[str, StageHealth] = Field(description="by stage")


class HealthReport(BaseModel):
    """The same body with 200 (healthy) and 503 (Redis down, or work waiting with no worker)."""

    success: bool
    healthy: bool
    health: HealthFigures
