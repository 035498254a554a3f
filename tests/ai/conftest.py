"""Fixtures of the ai stage's tests: articles written for them, and a local chat-completions server."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from gleaner.models import ParsedContent
from tests.ai.openai_server import ChatCompletionsServer
from tests.factories import create_link

TEXTS = Path(__file__).parent / "texts"


def article(name: str) -> str:
    return (TEXTS / f"{name}.txt").read_text(encoding="utf-8")


ARTICLES = sorted(path.stem for path in TEXTS.glob("*.txt"))


@pytest.fixture
def openai_server() -> Iterator[ChatCompletionsServer]:
    server = ChatCompletionsServer().start()
    yield server
    server.stop()


def create_parsed_content(
    session: Session,
    url: str = "https://example.com/story",
    text: str | None = None,
    title: str | None = None,
) -> ParsedContent:
    """A link and its parsed article, as the parsing stage leaves them."""
    body = article("harbour") if text is None else text
    link = create_link(session, url)
    parsed = ParsedContent(
        link_id=link.id,
        final_url=url,
        title=title,
        text=body,
        language="en",
        word_count=len(body.split()),
        content_hash=hashlib.sha256(body.encode()).hexdigest(),
    )
    session.add(parsed)
    session.flush()
    return parsed
