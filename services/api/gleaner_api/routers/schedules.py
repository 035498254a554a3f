"""Schedules: a pipeline fired on a cron expression or an interval (gleaner.schedules)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy import func, select

from gleaner.addresses import BlockedAddress
from gleaner.errors import InvalidRequest, NotFound
from gleaner.models import Schedule, ScheduleFiring, utcnow
from gleaner.netguard import check_url_target, settings_policy
from gleaner.runtime import Runtime
from gleaner.schedules import check_timing, next_fire_time
from gleaner_api.config_schemas import ScheduleCreate, ScheduleFiringRead, ScheduleRead
from gleaner_api.deps import (
    OwnerDep,
    PageQuery,
    PathId,
    RuntimeDep,
    SessionDep,
    SessionRoute,
)
from gleaner_api.openapi import PIPELINE_ERRORS, errors
from gleaner_api.scheduler import fire
from gleaner_api.schemas import Page
from gleaner_api.submission import pipeline_config, prepare_pipeline

router = APIRouter(
    prefix="/api/schedules", tags=["schedules"], route_class=SessionRoute
)


SCHEDULE_ERRORS = errors({404: ("schedule_not_found",)})

RECENT_FIRINGS = 20


def check_feed(body: ScheduleCreate, runtime: Runtime) -> None:
    """422 for a feed schedule that also names links, or a feed URL the address guard refuses."""
    assert body.feed_url is not None
    if body.pipeline.urls or body.pipeline.link_ids:
        raise InvalidRequest(
            "a feed schedule runs the feed's entries: give no `pipeline.urls` or `pipeline.link_ids`",
            code="invalid_schedule",
            details={"field": "pipeline"},
        )
    try:
        check_url_target(body.feed_url, settings_policy(runtime.settings))
    except BlockedAddress as exc:
        raise InvalidRequest(
            f"feed_url: {exc.reason}",
            code="invalid_feed_url",
            details={"field": "feed_url"},
        ) from None


def _owned(session: SessionDep, owner: str, schedule_id: int) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None or schedule.owner != owner:
        raise NotFound(
            f"schedule {schedule_id} does not exist", code="schedule_not_found"
        )
    return schedule


def _read(session: SessionDep, schedule: Schedule, with_firings: bool) -> ScheduleRead:
    body = ScheduleRead.model_validate(schedule)
    if with_firings:
        rows = session.scalars(
            select(ScheduleFiring)
            .where(ScheduleFiring.schedule_id == schedule.id)
            .order_by(ScheduleFiring.id.desc())
            .limit(RECENT_FIRINGS)
        )
        body.firings = [ScheduleFiringRead.model_validate(row) for row in rows]
    return body


@router.post(
    "",
    status_code=201,
    response_model=ScheduleRead,
    responses=errors(
        {
            404: PIPELINE_ERRORS[404],
            422: (
                "invalid_cron",
                "invalid_timezone",
                "invalid_schedule",
                "invalid_feed_url",
                *PIPELINE_ERRORS[422],
            ),
        },
        body=True,
    ),
)
def create_schedule(
    body: ScheduleCreate, session: SessionDep, runtime: RuntimeDep, owner: OwnerDep
) -> ScheduleRead:
    """Create a schedule; its first firing is the first tick after now."""
    check_timing(
        body.cron,
        body.timezone,
        body.interval_seconds,
        runtime.settings.SCHEDULE_MIN_INTERVAL_SECONDS,
    )
    if body.pipeline.after:
        raise InvalidRequest(
            "a scheduled pipeline cannot wait for tasks (`after`)",
            code="invalid_schedule",
        )
    if body.feed_url is not None:
        check_feed(body, runtime)
        # the pipeline's options, checked now; its links are the entries each firing brings
        pipeline_config(session, runtime, owner, body.pipeline)
    else:
        # The same checks as POST /api/pipelines, now rather than at every firing (links are saved).
        prepare_pipeline(session, runtime, owner, body.pipeline)
    schedule = Schedule(
        owner=owner,
        name=body.name,
        cron=body.cron,
        timezone=body.timezone,
        interval_seconds=body.interval_seconds,
        feed_url=body.feed_url,
        pipeline=body.pipeline.model_dump(mode="json", exclude={"after", "condition"}),
    )
    schedule.next_fire_at = next_fire_time(schedule, utcnow())
    session.add(schedule)
    session.commit()
    return _read(session, schedule, False)


@router.get("", response_model=Page[ScheduleRead], responses=errors())
def list_schedules(
    session: SessionDep,
    owner: OwnerDep,
    page: PageQuery = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ScheduleRead]:
    """The caller's schedules, oldest first."""
    query = select(Schedule).where(Schedule.owner == owner)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Schedule.id).offset((page - 1) * page_size).limit(page_size)
    )
    return Page(
        items=[_read(session, row, False) for row in rows],
        total=total,
        page=page,
        page_size=page_size,
    )


@router.get("/{schedule_id}", response_model=ScheduleRead, responses=SCHEDULE_ERRORS)
def get_schedule(
    schedule_id: PathId, session: SessionDep, owner: OwnerDep
) -> ScheduleRead:
    """One schedule with its next firing and its latest firings."""
    return _read(session, _owned(session, owner, schedule_id), True)


@router.delete("/{schedule_id}", status_code=204, responses=SCHEDULE_ERRORS)
def delete_schedule(
    schedule_id: PathId, session: SessionDep, owner: OwnerDep
) -> Response:
    """Delete a schedule; the tasks it made stay."""
    session.delete(_owned(session, owner, schedule_id))
    session.commit()
    return Response(status_code=204)


@router.post(
    "/{schedule_id}/pause", response_model=ScheduleRead, responses=SCHEDULE_ERRORS
)
def pause_schedule(
    schedule_id: PathId, session: SessionDep, owner: OwnerDep
) -> ScheduleRead:
    """Stop firing until resumed (a firing already under way still completes)."""
    schedule = _owned(session, owner, schedule_id)
    schedule.paused = True
    schedule.next_fire_at = None
    session.commit()
    return _read(session, schedule, False)


@router.post(
    "/{schedule_id}/resume", response_model=ScheduleRead, responses=SCHEDULE_ERRORS
)
def resume_schedule(
    schedule_id: PathId, session: SessionDep, owner: OwnerDep
) -> ScheduleRead:
    """Fire again from the next tick after now (ticks missed while paused are not made up)."""
    schedule = _owned(session, owner, schedule_id)
    if schedule.paused:
        schedule.paused = False
        schedule.next_fire_at = next_fire_time(schedule, utcnow())
        session.commit()
    return _read(session, schedule, False)


@router.post(
    "/{schedule_id}/run",
    status_code=202,
    response_model=ScheduleFiringRead,
    responses=SCHEDULE_ERRORS,
)
def run_schedule_now(
    schedule_id: PathId, session: SessionDep, runtime: RuntimeDep, owner: OwnerDep
) -> Any:
    """Fire once now, outside the timing (paused or not); the next firing stays where it was.

    A feed schedule answers `fetching`: a parsing worker reads the feed, then the task is made
    (GET the schedule to see the firing's outcome)."""
    _owned(session, owner, schedule_id)
    session.close()
    runtime.redis.ping()  # 503 before a task is made that could not be queued now
    fired = fire(runtime, schedule_id, None, utcnow())
    if fired is None:
        raise NotFound(
            f"schedule {schedule_id} does not exist", code="schedule_not_found"
        )
    return ScheduleFiringRead.model_validate(
        {
            "id": 0,
            "tick_at": fired.tick_at,
            "manual": True,
            "outcome": fired.outcome,
            "task_id": fired.task_id,
            "error": fired.error,
            "fired_at": fired.tick_at,
        }
    )
