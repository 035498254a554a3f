"""A feed schedule's fetch (gleaner.feeds): read the RSS/Atom feed, file the entries not seen before.

`fetch_feed` is what the queue calls (gleaner.queues.FEED_JOB_PATH). The feed is fetched by the process's
page fetcher — same address guard, allow list, size cap, deadline and per-host slots as a page — and
parsed with feedparser. The new entries are recorded in the transaction that moves the firing on to
`fetched`; a scheduler then makes the task from them. Whatever goes wrong is recorded on the firing as
`failed` with its code and reason; nothing is retried here, because the next tick fetches again.
"""

from __future__ import annotations

from typing import Any

import feedparser
import structlog
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gleaner import feeds
from gleaner.errors import GleanerError, PermanentError
from gleaner.runtime import Runtime, current
from gleaner_parsing.fetcher import FEED, checked_url
from gleaner_parsing.jobs import process_fetcher, runtime_host_limit

log = structlog.get_logger("gleaner.feeds")

RACE_ATTEMPTS = 3
"""Times to read the entries again after a racing firing filed one of them first."""


def fetch_feed(firing_id: int) -> dict[str, Any]:
    runtime = current()
    with runtime.sessions() as session:
        target = feeds.firing_to_fetch(session, firing_id)
    if target is None:
        return {"firing_id": firing_id, "outcome": "not_fetching"}
    schedule_id, url = target
    try:
        entries = read_feed(runtime, url)
    except GleanerError as exc:
        reason = f"{exc.code}: {exc.message}"
        with runtime.sessions() as session:
            feeds.fail_fetch(session, firing_id, schedule_id, reason)
            session.commit()
        log.warning("feed_failed", schedule_id=schedule_id, url=url, error=reason)
        return {"firing_id": firing_id, "outcome": feeds.FAILED, "error": reason}
    new = record(runtime, firing_id, schedule_id, entries)
    log.info("feed_read", schedule_id=schedule_id, entries=len(entries), new=new)
    return {"firing_id": firing_id, "entries": len(entries), "new": new}


def read_feed(runtime: Runtime, url: str) -> list[feeds.Entry]:
    """The feed's entries with a usable link, in feed order; PermanentError if it is not a feed."""
    gate = runtime_host_limit(runtime).slot
    page = process_fetcher(runtime.settings).fetch(url, gate=gate, wanted=FEED)
    parsed = feedparser.parse(page.text)
    # feedparser reads what it can of a broken feed (bozo); nothing readable at all is a failure
    if not parsed.get("version") or (parsed.get("bozo") and not parsed.entries):
        problem = parsed.get("bozo_exception") or "no RSS or Atom document found"
        raise PermanentError(
            f"{url} is not a readable RSS or Atom feed: {problem}", code="feed_invalid"
        )
    entries: list[feeds.Entry] = []
    for raw in parsed.entries[: feeds.DEFAULT_MAX_FEED_ENTRIES]:
        link = usable_link(raw.get("link"), runtime.settings.MAX_URL_LENGTH)
        entry_id = str(raw.get("id") or "").strip() or link
        if link is not None and entry_id:
            entries.append(feeds.Entry(entry_id, link))
    return entries


def usable_link(link: object, max_length: int) -> str | None:
    """An http(s) link a pipeline can take, or None (an entry without one is skipped, not failed)."""
    if not isinstance(link, str) or not link.strip() or len(link) > max_length:
        return None
    try:
        checked_url(link.strip())
    except PermanentError:
        return None
    return link.strip()


def record(
    runtime: Runtime, firing_id: int, schedule_id: int, entries: list[feeds.Entry]
) -> int | None:
    limit = runtime.settings.MAX_BATCH_SIZE
    for _ in range(RACE_ATTEMPTS):
        with runtime.sessions() as session:
            try:
                new = feeds.record_entries(
                    session, firing_id, schedule_id, entries, limit
                )
                session.commit()
                return new
            except IntegrityError:
                session.rollback()  # another firing filed one of these first: read again
            except SQLAlchemyError:
                session.rollback()
                raise  # RQ records it; the firing is failed as lost, and the next tick fetches
    with runtime.sessions() as session:
        feeds.fail_fetch(
            session,
            firing_id,
            schedule_id,
            "feed_race: other firings kept filing the same entries",
        )
        session.commit()
    return None
