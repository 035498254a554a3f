"""The parsing stage's job: fetch the item's link safely, extract the article, store it as ParsedContent.

`parse_item` is what the queue calls (gleaner.queues: `gleaner_parsing.jobs.parse_item`); the runner
(gleaner.execution) does claiming, retries, failure reasons and the AI stage's enqueue after commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gleaner import tracing
from gleaner.errors import PermanentError, RetryableError
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
    link = (
        ctx.session.get(Link, ctx.item.link_id)
        if ctx.item.link_id is not None
        else None
    )
    if link is None:
        raise PermanentError("the item's link no longer exists", code="link_missing")
    ctx.checkpoint()
    with tracing.span("fetch", {"url.full": link.url}) as fetching:
        page = process_fetcher(ctx.settings).fetch(link.url, gate=host_limit(ctx).slot)
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
    parsed = store_parsed_content(ctx.session, link.id, page, article)
    ctx.item.parsed_content_id = parsed.id
    return {
        "parsed_content_id": parsed.id,
        "title": article.title,
        "word_count": article.word_count,
    }


def store_parsed_content(
    session: Session, link_id: int, page: Page, article: Article
) -> ParsedContent:
    """Insert or replace the link's one ParsedContent row."""
    parsed = session.scalars(
        select(ParsedContent).where(ParsedContent.link_id == link_id)
    ).one_or_none()
    if parsed is None:
        parsed = ParsedContent(link_id=link_id)
        session.add(parsed)
    parsed.final_url = page.url
    parsed.canonical_url = article.canonical_url
    parsed.title = article.title
    parsed.text = article.text
    parsed.author = article.author
    parsed.published_date = article.published_date
    parsed.site_name = article.site_name
    parsed.language = article.language[:16] if article.language else None
    parsed.word_count = article.word_count
    parsed.content_hash = article.content_hash
    parsed.updated_at = utcnow()
    try:
        session.flush()
    except IntegrityError as exc:
        # Another task parsed the same link at the same moment; the next attempt updates its row.
        raise RetryableError(
            "the link's content was written concurrently", code="concurrent_update"
        ) from exc
    return parsed
