"""Feed schedules in SQL: the entries a schedule has filed (each once) and a feed firing's states.

A feed firing goes `fetching` (the scheduler claimed the tick and queued the fetch on a parsing worker,
gleaner_parsing.feeds) -> `fetched` (the worker recorded the new entries, in one transaction with the
move) -> `created` (a scheduler made the task from those entries). It ends `no_new_entries` when the
feed had nothing new, and `failed` (with the reason) when the feed could not be fetched or read, or
its job was lost; the next tick simply fetches again.

Why the fetch is a job and not done by the scheduler: the guarded fetcher (allow list, size and time
caps, per-host slots) lives in the parsing worker, whose code the API/scheduler image does not carry;
and a slow feed must not hold the scheduler's one-second loop, which fires every other schedule.

Dedup: an entry is keyed by its id (RSS guid, Atom id) or, lacking one, its link; the unique constraint
(schedule_id, entry_key) of `feed_entries` is what stops two firings (replicas, run-now) racing for the
same entry from both filing it: the loser's transaction fails and it reads the entries again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gleaner.db import rowcount
from gleaner.models import FeedEntry, Schedule, ScheduleFiring, utcnow

FETCHING = "fetching"
FETCHED = "fetched"
CREATED = "created"
NO_NEW_ENTRIES = "no_new_entries"
FAILED = "failed"
FIRING_OUTCOMES = (CREATED, NO_NEW_ENTRIES, FAILED)
"""The outcomes a firing ends with (gleaner_schedule_firings_total{outcome})."""

DEFAULT_STALE_FETCH_SECONDS = 900
"""A feed firing still `fetching` this long after it fired lost its job (a worker or Redis went away,
or the parsing queue is that far behind): it is marked failed and the next tick fetches again."""

DEFAULT_MAX_FEED_ENTRIES = 1000
"""Entries read from one feed document; a feed longer than this is cut (real feeds hold 10-100)."""


@dataclass(frozen=True)
class Entry:
    entry_id: str  # the guid/id, or the link when there is none
    link: str

    @property
    def key(self) -> str:
        """Fixed-length, so the unique index stays small whatever the feed puts in its ids."""
        return hashlib.sha256(self.entry_id.encode()).hexdigest()


def firing_to_fetch(session: Session, firing_id: int) -> tuple[int, str] | None:
    """(schedule id, feed URL) of a firing still waiting for its fetch; None when it is not."""
    row = session.execute(
        select(ScheduleFiring.schedule_id, Schedule.feed_url)
        .join(Schedule, Schedule.id == ScheduleFiring.schedule_id)
        .where(ScheduleFiring.id == firing_id, ScheduleFiring.outcome == FETCHING)
    ).first()
    if row is None or row[1] is None:
        return None
    return row[0], row[1]


def record_entries(
    session: Session,
    firing_id: int,
    schedule_id: int,
    entries: Sequence[Entry],
    limit: int,
) -> int | None:
    """File the entries the schedule has not seen (at most `limit`) and move the firing on.

    Not committed; flushes, so a racing firing that filed one of them first raises IntegrityError here
    and the caller reads again. Returns how many were new, or None when the firing was not `fetching`.
    """
    unique = {entry.key: entry for entry in reversed(entries)}  # first occurrence wins
    ordered = [entry for entry in entries if unique.get(entry.key) is entry]
    seen = set(
        session.scalars(
            select(FeedEntry.entry_key).where(
                FeedEntry.schedule_id == schedule_id,
                FeedEntry.entry_key.in_([entry.key for entry in ordered]),
            )
        )
    )
    new = [entry for entry in ordered if entry.key not in seen][:limit]
    outcome = FETCHED if new else NO_NEW_ENTRIES
    if not _move(session, firing_id, FETCHING, outcome, new_entries=len(new)):
        return None
    session.add_all(
        FeedEntry(
            schedule_id=schedule_id,
            entry_key=entry.key,
            entry_id=entry.entry_id,
            link=entry.link,
            firing_id=firing_id,
        )
        for entry in new
    )
    if not new:
        note_outcome(session, schedule_id, NO_NEW_ENTRIES, None, None)
    session.flush()
    return len(new)


def fail_fetch(session: Session, firing_id: int, schedule_id: int, error: str) -> bool:
    """Record why a feed could not be read (not committed); False if the firing had moved on."""
    if not _move(session, firing_id, FETCHING, FAILED, error=error):
        return False
    note_outcome(session, schedule_id, FAILED, None, error)
    return True


def entry_links(session: Session, firing_id: int) -> list[str]:
    return list(
        session.scalars(
            select(FeedEntry.link)
            .where(FeedEntry.firing_id == firing_id)
            .order_by(FeedEntry.id)
        )
    )


def fetched_firings(session: Session, limit: int = 50) -> list[tuple[int, int]]:
    """(firing id, schedule id) of the feed firings whose entries wait for their task."""
    rows = session.execute(
        select(ScheduleFiring.id, ScheduleFiring.schedule_id)
        .where(ScheduleFiring.outcome == FETCHED)
        .order_by(ScheduleFiring.id)
        .limit(limit)
    ).all()
    return [(row[0], row[1]) for row in rows]


def claim_fetched(session: Session, firing_id: int) -> bool:
    """Take a fetched firing to make its task; True for one caller only (the UPDATE's row lock)."""
    return _move(session, firing_id, FETCHED, CREATED)


def expire_stale_fetches(
    session: Session, now: datetime, after_seconds: float = DEFAULT_STALE_FETCH_SECONDS
) -> int:
    """Mark failed the feed firings whose fetch never reported back (not committed)."""
    return rowcount(
        session.execute(
            update(ScheduleFiring)
            .where(
                ScheduleFiring.outcome == FETCHING,
                ScheduleFiring.fired_at < now - timedelta(seconds=after_seconds),
            )
            .values(
                outcome=FAILED,
                error=f"feed_lost: the feed fetch did not report back within {after_seconds:.0f} s "
                "(a worker or Redis lost it); the next tick fetches again",
            )
        )
    )


def note_outcome(
    session: Session,
    schedule_id: int,
    outcome: str,
    task_id: int | None,
    error: str | None,
) -> None:
    """The schedule's `last_*` fields, as shown by the API, the CLI and the web page."""
    session.execute(
        update(Schedule)
        .where(Schedule.id == schedule_id)
        .values(
            last_outcome=outcome,
            last_task_id=task_id,
            last_error=error,
            updated_at=utcnow(),
        )
    )


def _move(
    session: Session,
    firing_id: int,
    from_outcome: str,
    to_outcome: str,
    **values: object,
) -> bool:
    return bool(
        rowcount(
            session.execute(
                update(ScheduleFiring)
                .where(
                    ScheduleFiring.id == firing_id,
                    ScheduleFiring.outcome == from_outcome,
                )
                .values(outcome=to_outcome, **values)
            )
        )
    )
