"""What every AI provider takes and gives: the options of one request and its result.

A provider turns an article's text into a summary, keywords and insights. It raises RetryableError or
PermanentError (gleaner.errors) with a stable code; the job runner does the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from gleaner.errors import PermanentError

DEFAULT_MIN_WORDS = 20
"""Words an article needs before any provider runs: below it there is nothing to summarise."""

_WORD = re.compile(r"\w+", re.UNICODE)

Checkpoint = Callable[[], None]
"""Called between expensive steps; raises to stop (the task was cancelled, the worker shuts down)."""


def no_checkpoint() -> None:
    return None


@dataclass(frozen=True)
class ProcessingOptions:
    """The original design's processing_config flags, plus the article's language."""

    generate_summary: bool = True
    generate_keywords: bool = True
    generate_insights: bool = True
    language: str | None = (
        None  # ISO 639-1 code from the parsing stage, when it found one
    )

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | None, language: str | None = None
    ) -> ProcessingOptions:
        """Options from a task's `processing_config`; a flag that is absent means yes."""
        given = config or {}
        return cls(
            generate_summary=bool(given.get("generate_summary", True)),
            generate_keywords=bool(given.get("generate_keywords", True)),
            generate_insights=bool(given.get("generate_insights", True)),
            language=language,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "generate_summary": self.generate_summary,
            "generate_keywords": self.generate_keywords,
            "generate_insights": self.generate_insights,
        }


@dataclass(frozen=True)
class AIResult:
    """One article's digest. Parts not asked for are empty (None / [])."""

    summary: str | None
    keywords: list[str]
    insights: list[str]
    usage: dict[str, Any] = field(
        default_factory=dict
    )  # provider calls and token counts


class Provider(Protocol):
    """Summary, keywords and insights for one article."""

    def process(
        self,
        text: str,
        title: str | None,
        options: ProcessingOptions,
        checkpoint: Checkpoint = no_checkpoint,
    ) -> AIResult: ...


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def require_text(text: str | None, min_words: int = DEFAULT_MIN_WORDS) -> str:
    """The text, stripped, or PermanentError(text_too_short) when it is too short to digest."""
    stripped = (text or "").strip()
    words = word_count(stripped)
    if words < min_words:
        raise PermanentError(
            f"the text has {words} words; at least {min_words} are needed for a summary",
            code="text_too_short",
        )
    return stripped
