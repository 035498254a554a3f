"""Schedules: when a schedule fires next, and the SQL claim that makes each tick fire exactly once.

A schedule fires on a cron expression read in its time zone (croniter), or every `interval_seconds`.
The scheduler (gleaner_api.scheduler, run by every reconciler replica) finds schedules whose
`next_fire_at` has passed and fires each in one transaction: the claim
`UPDATE schedules SET next_fire_at = <next> WHERE id = … AND next_fire_at = <the value read>`, the new
task and a `schedule_firings` row (unique per schedule and tick). Two replicas racing for a tick: one
UPDATE matches, the other changes nothing and fires nothing. A replica killed mid-tick: its transaction
never commits, the tick stays due, and the next pass (of any replica) fires it. Schedulers that were
all down fire a missed schedule once when they come back; its next time is then counted from now.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gleaner.db import rowcount
from gleaner.errors import InvalidRequest
from gleaner.feeds import FIRING_OUTCOMES
from gleaner.models import Schedule, ScheduleFiring, utcnow

CRON_PATTERN = r"^ *[0-9A-Za-z*/,?#-]+( +[0-9A-Za-z*/,?#-]+){4} *$"
"""Five fields separated by spaces (minute hour day month weekday), as the OpenAPI document publishes it."""
_CRON = re.compile(CRON_PATTERN)

DEFAULT_MIN_INTERVAL_SECONDS = 60
"""The shortest interval (and the closest cron ticks) a schedule may ask for, unless settings say less."""


def check_timing(
    cron: str | None, timezone: str, interval_seconds: int | None, min_interval: int
) -> None:
    """422 unless exactly one of a valid cron expression or a long enough interval is given."""
    if (cron is None) == (interval_seconds is None):
        raise InvalidRequest(
            "give either `cron` or `interval_seconds`", code="invalid_schedule"
        )
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(
            f"unknown time zone {timezone!r} (use an IANA name such as Europe/Paris)",
            code="invalid_timezone",
        ) from None
    if interval_seconds is not None:
        if interval_seconds < min_interval:
            raise InvalidRequest(
                f"interval_seconds must be at least {min_interval}",
                code="invalid_schedule",
            )
        return
    assert cron is not None
    if _CRON.fullmatch(cron) is None or not croniter.is_valid(cron):
        raise InvalidRequest(
            f"{cron!r} is not a cron expression of five fields (minute hour day month weekday)",
            code="invalid_cron",
        )
    first = croniter(cron, utcnow().astimezone(zone)).get_next(datetime)
    gap = croniter(cron, first).get_next(datetime) - first
    if gap.total_seconds() < min_interval:
        raise InvalidRequest(
            f"{cron!r} fires more often than every {min_interval} s",
            code="invalid_schedule",
        )


def next_fire_time(schedule: Schedule, after: datetime) -> datetime:
    """The first tick strictly after `after` (UTC)."""
    if schedule.interval_seconds is not None:
        return after + timedelta(seconds=schedule.interval_seconds)
    assert schedule.cron is not None
    local = after.astimezone(ZoneInfo(schedule.timezone))
    nxt: datetime = croniter(schedule.cron, local).get_next(datetime)
    return nxt.astimezone(after.tzinfo)


def following_tick(schedule: Schedule, due: datetime, now: datetime) -> datetime:
    """Where a schedule goes after firing for `due`: the tick after it, or — when schedulers were down
    long enough to miss more than one — the first tick after now, so missed ticks fire once in all."""
    candidate = next_fire_time(schedule, due)
    return candidate if candidate > now else next_fire_time(schedule, now)


def claim(
    session: Session, schedule_id: int, due: datetime, following: datetime
) -> bool:
    """Move a due schedule on; True only for the one caller whose read of `next_fire_at` still holds."""
    return bool(
        rowcount(
            session.execute(
                update(Schedule)
                .where(
                    Schedule.id == schedule_id,
                    Schedule.next_fire_at == due,
                    Schedule.paused.is_(False),
                )
                .values(next_fire_at=following, updated_at=utcnow())
            )
        )
    )


def due_schedules(
    session: Session, now: datetime, limit: int = 100
) -> list[tuple[int, datetime]]:
    rows = session.execute(
        select(Schedule.id, Schedule.next_fire_at)
        .where(
            Schedule.paused.is_(False),
            Schedule.next_fire_at.is_not(None),
            Schedule.next_fire_at <= now,
        )
        .order_by(Schedule.next_fire_at)
        .limit(limit)
    ).all()
    return [(row[0], row[1]) for row in rows if row[1] is not None]


class ScheduleCollector(Collector):
    """Firings by outcome and how late the most overdue schedule is, read from SQL at scrape time.

    Counted from `schedule_firings`, so every API replica reports the same totals whichever scheduler
    replica fired (the rules take `max`). A lag that keeps growing means no scheduler is firing.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> list[Metric]:
        firings, lag, count = self._families()
        try:
            with self.sessions() as session:
                by_outcome = session.execute(
                    select(ScheduleFiring.outcome, func.count()).group_by(
                        ScheduleFiring.outcome
                    )
                ).all()
                oldest_due = session.scalar(
                    select(func.min(Schedule.next_fire_at)).where(
                        Schedule.paused.is_(False)
                    )
                )
                states = session.execute(
                    select(Schedule.paused, func.count()).group_by(Schedule.paused)
                ).all()
        except SQLAlchemyError:
            return []  # absent rather than zero: the database is down, not the schedules
        for outcome in FIRING_OUTCOMES:
            firings.add_metric([outcome], dict(by_outcome).get(outcome, 0))
        late = (utcnow() - oldest_due).total_seconds() if oldest_due else 0.0
        lag.add_metric([], max(0.0, late))
        paused = dict(states)
        count.add_metric(["active"], paused.get(False, 0))
        count.add_metric(["paused"], paused.get(True, 0))
        return [firings, lag, count]

    @staticmethod
    def _families() -> tuple[CounterMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            CounterMetricFamily(
                "gleaner_schedule_firings",
                "Schedule firings by outcome: created (a task), no_new_entries (a feed had nothing new) "
                "or failed (the reason is on the firing).",
                labels=["outcome"],
            ),
            GaugeMetricFamily(
                "gleaner_schedule_next_firing_lag_seconds",
                "Seconds the most overdue active schedule is past its firing time (0: none is late).",
            ),
            GaugeMetricFamily(
                "gleaner_schedules",
                "Schedules by state (active, paused).",
                labels=["state"],
            ),
        )
