"""Filing one page exactly once: the intent is recorded first, and every retry looks before it creates.

States of a NotionImport (one per database and source URL, `idempotency_key` unique):
  pending  → the intent is committed, nothing sent yet;
  creating → a create was (maybe) sent: before sending another, find the page by the stored page id,
             else by querying the data source for the source URL;
  created  → the page exists and all its blocks are appended.
The page id is committed the moment Notion returns it, and each append is committed after it succeeds,
so a worker killed anywhere resumes where it was. Two items filing the same URL at once are serialized
by a Redis lease per idempotency key: Notion's query is eventually consistent and is not a lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from sqlalchemy.orm import Session

from gleaner.errors import PermanentError, RetryableError
from gleaner.models import NotionImport, NotionImportState
from gleaner.notion_schema import DatabaseSchema
from gleaner_notion.client import NotionApi
from gleaner_notion.mapping import PagePlan, create_request

LEASE_KEY = "gleaner:notion:filing:{key}"

DEFAULT_LEASE_SECONDS = 90
"""How long one item may hold the right to file a page: longer than the job timeout, so a live holder
never loses it; a dead holder's lease runs out, or its own retry takes it over at once."""

DEFAULT_LEASE_WAIT = 20.0
"""Seconds an item waits for another item filing the same page before it retries later."""

DEFAULT_SETTLE_SECONDS = 3.0
"""Notion's query is eventually consistent: a page created this recently may not be found yet, so a
miss that soon after a create is asked again once this much time has passed since it."""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@contextmanager
def filing_lease(
    redis: Redis, key: str, owner: str, wait: float = DEFAULT_LEASE_WAIT
) -> Iterator[None]:
    """Hold the right to file the page of `key`; `owner` (the item) takes over a lease its dead attempt left."""
    name = LEASE_KEY.format(key=key)
    lease_ms = DEFAULT_LEASE_SECONDS * 1000
    deadline = time.monotonic() + wait
    while not redis.set(name, owner, nx=True, px=lease_ms):
        holder = redis.get(name)
        if (
            holder is not None
            and (holder.decode() if isinstance(holder, bytes) else holder) == owner
        ):
            redis.pexpire(
                name, lease_ms
            )  # an item runs one attempt at a time: the holder was us, and died
            break
        if time.monotonic() > deadline:
            raise RetryableError(
                "another item is filing the same page",
                code="notion_busy",
                retry_after=5,
            )
        time.sleep(0.2)
    try:
        yield
    finally:
        redis.eval(_RELEASE, 1, name, owner)


def _age_seconds(moment: datetime | None) -> float:
    if moment is None:
        return float("inf")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (datetime.now(UTC) - moment).total_seconds()


def find_existing(
    api: NotionApi, schema: DatabaseSchema, plan: PagePlan, record: NotionImport
) -> dict[str, Any] | None:
    """The page an earlier attempt created, if any: asked again once the query has had time to settle."""
    found = api.find_pages_by_url(
        schema.data_source_id, plan.url_property, record.source_url
    )
    if not found:
        pending = DEFAULT_SETTLE_SECONDS - _age_seconds(record.updated_at)
        if pending <= 0:
            return None
        time.sleep(pending)
        found = api.find_pages_by_url(
            schema.data_source_id, plan.url_property, record.source_url
        )
    if not found:
        return None
    return min(found, key=lambda page: str(page.get("created_time", "")))


def file_page(
    session: Session,
    record: NotionImport,
    api: NotionApi,
    schema: DatabaseSchema,
    plan: PagePlan,
    checkpoint: Callable[[], None],
) -> None:
    """Bring `record` to `created`, sending only what an earlier attempt did not; commits as it goes."""
    if record.state == NotionImportState.CREATED:
        return
    create, appends = create_request(plan, schema.data_source_id)
    if record.page_id is None and record.state in (
        NotionImportState.CREATING,
        NotionImportState.FAILED,
    ):
        page = find_existing(api, schema, plan, record)
        if page is not None:
            _record_page(session, record, page, len(create["children"]))
    if record.page_id is None:
        checkpoint()
        record.state = NotionImportState.CREATING
        record.error = None
        session.commit()  # from here on a retry looks for the page before creating one
        try:
            page = api.create_page(create)
        except PermanentError as error:
            _record_failure(session, record, error)
            raise
        _record_page(session, record, page, len(create["children"]))
    page_id = str(record.page_id)
    sent = max(0, len(record.requests) - 1)  # the create, then one entry per append
    for batch in appends[sent:]:
        checkpoint()
        try:
            api.append_children(page_id, batch)
        except PermanentError as error:
            _record_failure(session, record, error)
            raise
        record.requests = [
            *record.requests,
            {"method": "PATCH", "path": "blocks/children", "children": len(batch)},
        ]
        session.commit()
    record.state = NotionImportState.CREATED
    session.commit()


def _record_page(
    session: Session, record: NotionImport, page: dict[str, Any], children: int
) -> None:
    record.page_id = str(page["id"])
    record.page_url = page.get("url")
    record.requests = [{"method": "POST", "path": "pages", "children": children}]
    session.commit()


def _record_failure(
    session: Session, record: NotionImport, error: PermanentError
) -> None:
    record.state = NotionImportState.FAILED
    record.error = error.message
    session.commit()
