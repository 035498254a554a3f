"""Rows the notion stage starts from: Link → ParsedContent → AIProcessedContent, and tasks over them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gleaner.db import session_scope
from gleaner.models import AIModel, AIProcessedContent, ParsedContent
from gleaner.runtime import Runtime
from gleaner.tasks import ItemInput
from tests.factories import create_link, submit_task


def create_ai_content(
    session: Session,
    url: str = "https://example.com/a",
    *,
    title: str | None = "An article",
    summary: str = "A short summary.",
    keywords: Sequence[Any] = ("python", "queues"),
    insights: Sequence[Any] = ("One insight.",),
    published: date | None = date(2026, 11, 2),
) -> AIProcessedContent:
    link = create_link(session, url)
    parsed = ParsedContent(
        link_id=link.id,
        final_url=url,
        title=title,
        text="Body text.",
        published_date=published,
        word_count=2,
        content_hash=hashlib.sha256(url.encode()).hexdigest(),
    )
    session.add(parsed)
    session.flush()
    model = session.scalars(select(AIModel).order_by(AIModel.id)).first()
    assert model is not None, "migration 0001 seeds the offline model"
    ai = AIProcessedContent(
        parsed_content_id=parsed.id,
        model_id=model.id,
        summary=summary,
        keywords=list(keywords),
        insights=list(insights),
    )
    session.add(ai)
    session.flush()
    return ai


def submit_notion_task(
    runtime: Runtime, ai_ids: Sequence[int], database_id: str | None, **notion: Any
) -> int:
    """A notion-only task over existing AI results, enqueued; returns its id."""
    config: dict[str, Any] = {
        "notion": {**({"database_id": database_id} if database_id else {}), **notion}
    }
    inputs = [
        ItemInput(item_id=ai_id, item_type="ai_content", ai_content_id=ai_id)
        for ai_id in ai_ids
    ]
    return submit_task(runtime, inputs, stages=("notion",), config=config)


def create_ai_contents(
    runtime: Runtime, urls: Sequence[str], **overrides: Any
) -> list[int]:
    with session_scope(runtime.sessions) as session:
        return [create_ai_content(session, url, **overrides).id for url in urls]
