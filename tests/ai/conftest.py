"""Fixtures of the ai stage's tests: articles written for them, and a local chat-completions server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ai.openai_server import ChatCompletionsServer

TEXTS = Path(__file__).parent / "texts"


def article(name: str) -> str:
    return (TEXTS / f"{name}.txt").read_text(encoding="utf-8")


ARTICLES = sorted(path.stem for path in TEXTS.glob("*.txt"))


@pytest.fixture
def openai_server() -> Iterator[ChatCompletionsServer]:
    server = ChatCompletionsServer().start()
    yield server
    server.stop()
