"""The scheduler: fires due schedules (gleaner.schedules) as ordinary pipeline tasks.

Every reconciler replica runs it in a thread (and `python -m gleaner_api schedule` runs it alone); the
SQL claim, not a leader, decides which replica fires a tick, so a replica that dies mid-tick costs
nothing but a second's delay. A firing that cannot make its task (a link id gone, no default model…)
is recorded as `failed` with the reason, and the schedule moves on to its next tick.

A feed schedule's firing makes no task at once: it is recorded `fetching` and its fetch is queued for a
parsing worker (gleaner.feeds says why there); each pass then makes the task of every firing whose new
entries the worker has recorded (`fetched`), claimed by an UPDATE so one replica makes it.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from datetime import datetime
from types import FrameType

import structlog
from pydantic import ValidationError
from redis.exceptions import RedisError
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from gleaner import feeds
from gleaner.errors import GleanerError
from gleaner.models import ProcessingTask, Schedule, ScheduleFiring, TaskType, utcnow
from gleaner.queues import ItemJob, enqueue_feed_fetch, enqueue_item_jobs
from gleaner.runtime import Runtime
from gleaner.schedules import claim, due_schedules, following_tick
from gleaner.settings import Settings
from gleaner.tasks import create_task
from gleaner_api.schemas import PipelineCreate
from gleaner_api.submission import prepare_pipeline

log = structlog.get_logger("gleaner.scheduler")

DEFAULT_POLL_SECONDS = 1.0
"""How often a scheduler looks for due schedules: the most a firing is late while one runs."""


@dataclass(frozen=True)
class Fired:
    schedule_id: int
    tick_at: datetime
    outcome: str  # created | failed | fetching (a feed's fetch is queued)
    task_id: int | None
    error: str | None


def fire_due(runtime: Runtime, now: datetime | None = None) -> list[Fired]:
    """Fire every schedule due at `now`; returns the firings this replica made."""
    now = now or utcnow()
    with runtime.sessions() as session:
        due = due_schedules(session, now)
        if feeds.expire_stale_fetches(session, now):
            session.commit()
    fired = [fire(runtime, schedule_id, at, now) for schedule_id, at in due]
    with runtime.sessions() as session:
        fetched = feeds.fetched_firings(session)
    made = [
        make_feed_task(runtime, firing_id, schedule_id)
        for firing_id, schedule_id in fetched
    ]
    return [f for f in [*fired, *made] if f is not None]


def fire(
    runtime: Runtime,
    schedule_id: int,
    due: datetime | None,
    now: datetime,
) -> Fired | None:
    """Fire one schedule for the tick `due` (None: run now, outside its timing); None if not ours."""
    jobs: list[ItemJob] = []
    session = runtime.sessions()
    try:
        schedule = session.get(Schedule, schedule_id)
        if schedule is None:
            return None
        if due is not None and not claim(
            session, schedule_id, due, following_tick(schedule, due, now)
        ):
            session.rollback()  # another replica fired this tick (or it was paused)
            return None
        if due is None:
            _lock(session, schedule_id)
        task_id, error, outcome = None, None, feeds.FETCHING
        if schedule.feed_url is None:
            task_id, jobs, error = _try_make_task(session, runtime, schedule)
            outcome = feeds.CREATED if task_id is not None else feeds.FAILED
        firing = ScheduleFiring(
            schedule_id=schedule_id,
            tick_at=due or now,
            manual=due is None,
            task_id=task_id,
            outcome=outcome,
            error=error,
        )
        session.add(firing)
        schedule.last_fired_at = now
        schedule.last_outcome = outcome
        schedule.last_task_id = task_id
        schedule.last_error = error
        session.commit()
        firing_id = firing.id
    except IntegrityError:
        session.rollback()  # this tick has its firing already
        return None
    finally:
        session.close()
    log.info(
        "schedule_fired",
        schedule_id=schedule_id,
        outcome=outcome,
        task_id=task_id,
        error=error,
    )
    if outcome == feeds.FETCHING:
        outcome, error = _queue_fetch(runtime, firing_id, schedule_id)
    _enqueue(runtime, task_id, jobs)
    return Fired(schedule_id, due or now, outcome, task_id, error)


def make_feed_task(runtime: Runtime, firing_id: int, schedule_id: int) -> Fired | None:
    """Make the task of a feed firing whose new entries are recorded; None if another replica did."""
    with runtime.sessions() as session:
        schedule = session.get(Schedule, schedule_id)
        if schedule is None or not feeds.claim_fetched(session, firing_id):
            session.rollback()
            return None
        urls = feeds.entry_links(session, firing_id)
        task_id, jobs, error = _try_make_task(session, runtime, schedule, urls)
        firing = session.get_one(ScheduleFiring, firing_id)
        firing.task_id, firing.error = task_id, error
        firing.outcome = feeds.CREATED if task_id is not None else feeds.FAILED
        feeds.note_outcome(session, schedule_id, firing.outcome, task_id, error)
        tick_at, outcome = firing.tick_at, firing.outcome
        session.commit()
    log.info(
        "feed_task_made",
        schedule_id=schedule_id,
        task_id=task_id,
        entries=len(urls),
        error=error,
    )
    _enqueue(runtime, task_id, jobs)
    return Fired(schedule_id, tick_at, outcome, task_id, error)


def _queue_fetch(
    runtime: Runtime, firing_id: int, schedule_id: int
) -> tuple[str, str | None]:
    try:
        enqueue_feed_fetch(runtime.redis, runtime.settings, firing_id)
    except RedisError as exc:
        error = f"redis_unavailable: the feed fetch could not be queued: {exc}"
        with runtime.sessions() as session:
            feeds.fail_fetch(session, firing_id, schedule_id, error)
            session.commit()
        return feeds.FAILED, error
    return feeds.FETCHING, None


def _enqueue(runtime: Runtime, task_id: int | None, jobs: list[ItemJob]) -> None:
    try:
        enqueue_item_jobs(runtime.redis, runtime.settings, jobs)
    except (
        RedisError
    ) as exc:  # the items are queued in SQL: the reconciler enqueues them
        log.warning("schedule_enqueue_deferred", task_id=task_id, error=str(exc))


def _try_make_task(
    session: Session,
    runtime: Runtime,
    schedule: Schedule,
    urls: list[str] | None = None,
) -> tuple[int | None, list[ItemJob], str | None]:
    """(task id, its jobs, None), or (None, [], why not): a savepoint keeps a failure's rows out."""
    try:
        with session.begin_nested():
            task, jobs = _make_task(session, runtime, schedule, urls)
            return task.id, jobs, None
    except (GleanerError, ValidationError) as exc:
        return None, [], exc.message if isinstance(exc, GleanerError) else str(exc)


def _lock(session: Session, schedule_id: int) -> None:
    """Write first, so the firing holds the write lock before it reads anything.

    The claim does this for a due tick. Without it, SQLite's savepoint below opens a deferred
    transaction whose reads pin a snapshot; a worker committing in between then makes the first INSERT
    fail at once with "database is locked" (SQLite does not wait for a stale snapshot), which the API
    answered 503. On PostgreSQL it only serialises run-nows of one schedule.
    """
    session.execute(
        update(Schedule).where(Schedule.id == schedule_id).values(updated_at=utcnow())
    )


def _make_task(
    session: Session, runtime: Runtime, schedule: Schedule, urls: list[str] | None
) -> tuple[ProcessingTask, list[ItemJob]]:
    pipeline = (
        schedule.pipeline if urls is None else {**schedule.pipeline, "urls": urls}
    )
    body = PipelineCreate.model_validate(pipeline)
    prepared = prepare_pipeline(session, runtime, schedule.owner, body)
    return create_task(
        session,
        owner=schedule.owner,
        task_type=TaskType.PIPELINE,
        stages=body.stages,
        inputs=prepared.inputs,
        config={**prepared.config, "schedule_id": schedule.id},
        max_retries=runtime.settings.max_attempts(body.stages[0]),
        priority=body.priority,
    )


class Scheduler:
    """The loop: fire what is due, every DEFAULT_POLL_SECONDS, until `stop` is set."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                fire_due(self.runtime)
            except (
                SQLAlchemyError,
                RedisError,
            ) as exc:  # a dependency is down: next tick
                log.warning(
                    "scheduler_pass_failed", error=f"{type(exc).__name__}: {exc}"
                )
            self.stop.wait(DEFAULT_POLL_SECONDS)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="scheduler", daemon=True)
        thread.start()
        return thread


def run(settings: Settings) -> int:
    """`python -m gleaner_api schedule`: only the scheduler (the reconciler runs one too)."""
    runtime = Runtime.start(settings)
    scheduler = Scheduler(runtime)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("scheduler_stopping", signal=signal.Signals(signum).name)
        scheduler.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler_starting")
    try:
        scheduler.run()
    finally:
        runtime.close()
    return 0
