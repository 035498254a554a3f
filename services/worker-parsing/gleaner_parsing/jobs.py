"""The parsing stage's job: fetch the item's link safely, extract the article, store it as ParsedContent.

`parse_item` is what the queue calls (gleaner.queues: `gleaner_parsing.jobs.parse_item`); the runner
(gleaner.execution) does claiming, retries, failure reasons and the AI stage's enqueue after commit.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gleaner import tracing
from gleaner.errors import PermanentError
from gleaner.execution import ItemContext, execute_item
from gleaner.models import Link, ParsedContent, utcnow
from gleaner.runtime import Runtime
from gleaner.settings import Settings
from gleaner_parsing.extractor import Article, extract_article
from gleaner_parsing.fetcher import Fetcher, Page
from gleaner_parsing.hostlimit import HostLimit

LEASE_MARGIN_SECONDS = 10.0
"""A host slot's lease outlives the fetch deadline by this much; a killed worker's slot frees after it."""

_fetcher: Fetcher | None = None


def process_fetcher(settings: Settings) -> Fetcher:
    """The process's fetcher (its connection pool), made on the first job, not at import."""
    global _fetcher
    if _fetcher is None:
        _fetcher = Fetcher.from_settings(settings)
    return _fetcher


def host_limit(ctx: ItemContext) -> HostLimit:
    return runtime_host_limit(ctx.runtime)


def runtime_host_limit(runtime: Runtime) -> HostLimit:
    """Per-host fetch slots in Redis, shared by every parsing worker (pages and feeds alike)."""
    settings: Settings = runtime.settings
    # Wait for a busy host for what the job timeout leaves after the fetch itself.
    wait = max(
        1.0,
        settings.PARSING_TIMEOUT
        - settings.FETCH_TIMEOUT_SECONDS
        - LEASE_MARGIN_SECONDS,
    )
    return HostLimit(
        runtime.redis,
        settings.FETCH_PER_HOST_CONCURRENCY,
        lease_seconds=settings.FETCH_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS,
        wait_seconds=wait,
    )


def parse_item(item_id: int) -> dict[str, Any]:
    return execute_item("parsing", item_id, parse_body)


def parse_body(ctx: ItemContext) -> dict[str, Any]:
    link_id = ctx.item.link_id
    url = (
        ctx.session.execute(_LINK_URL, {"b_link": link_id}).scalar()
        if link_id is not None
        else None
    )
    if link_id is None or url is None:
        raise PermanentError("the item's link no longer exists", code="link_missing")
    ctx.checkpoint()
    with tracing.span("fetch", {"url.full": url}) as fetching:
        page = process_fetcher(ctx.settings).fetch(url, gate=host_limit(ctx).slot)
        tracing.set_attributes(
            fetching,
            {
                "gleaner.fetch.bytes": page.size,
                "gleaner.fetch.redirects": len(page.redirects),
            },
        )
    ctx.checkpoint()
    with tracing.span("extract", {"gleaner.content_type": page.content_type}):
        article = extract_article(page.text, page.url, page.content_type)
    if article is None:
        raise PermanentError(f"no article text found at {page.url}", code="no_content")
    ctx.checkpoint()
    parsed_id = store_parsed_content(ctx.session, link_id, page, article)
    ctx.item.parsed_content_id = parsed_id
    return {
        "parsed_content_id": parsed_id,
        "title": article.title,
        "word_count": article.word_count,
    }


# Prebuilt Core statements, as the runner's (gleaner.items): compiled once, no ORM unit of work.
_links = cast(Table, Link.__table__)
_parsed = cast(Table, ParsedContent.__table__)
_LINK_URL = select(_links.c.url).where(_links.c.id == bindparam("b_link"))
_STORED_COLUMNS = (
    "final_url",
    "canonical_url",
    "title",
    "text",
    "author",
    "published_date",
    "site_name",
    "language",
    "word_count",
    "content_hash",
    "updated_at",
)


def _upsert_statement(dialect: str) -> Any:
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(_parsed)
    return statement.on_conflict_do_update(
        index_elements=[_parsed.c.link_id],
        set_={name: statement.excluded[name] for name in _STORED_COLUMNS},
    ).returning(_parsed.c.id)


_UPSERT = {dialect: _upsert_statement(dialect) for dialect in ("sqlite", "postgresql")}


def store_parsed_content(
    session: Session, link_id: int, page: Page, article: Article
) -> int:
    """Insert or replace the link's one ParsedContent row, in one statement; returns its id.

    INSERT … ON CONFLICT (link_id) DO UPDATE: a link parsed again (or by two tasks at once) keeps its
    one row, whose id does not change, and the last writer's article wins."""
    now = utcnow()
    values = {
        "link_id": link_id,
        "final_url": page.url,
        "canonical_url": article.canonical_url,
        "title": article.title,
        "text": article.text,
        "author": article.author,
        "published_date": article.published_date,
        "site_name": article.site_name,
        "language": article.language[:16] if article.language else None,
        "word_count": article.word_count,
        "content_hash": article.content_hash,
        "created_at": now,
        "updated_at": now,
    }
    dialect = session.get_bind().dialect.name
    return int(session.execute(_UPSERT[dialect], values).scalar_one())
