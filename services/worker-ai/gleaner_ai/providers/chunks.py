"""Splitting a long article into parts that fit a model's context, at paragraph and sentence bounds.

Token counts are estimates from characters: an exact tokenizer (tiktoken) downloads its tables at run
time, and an OpenAI-compatible server may use any tokenizer anyway. The estimate errs on the high side,
so a part fits even where a token is shorter than usual; a context-length error from the provider still
fails the item with the provider's message.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from segtok.segmenter import split_multi

DEFAULT_CHARS_PER_TOKEN = 3.0
"""Characters per token assumed (English averages about 4; code, numbers and other scripts fewer)."""


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / DEFAULT_CHARS_PER_TOKEN)


def _pieces(text: str, limit: int) -> Iterable[str]:
    """Paragraphs, or sentences of a paragraph too long to fit, or hard cuts of a sentence too long."""
    for paragraph in text.splitlines():
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph) <= limit:
            yield paragraph
            continue
        for sentence in split_multi(paragraph):
            for start in range(0, len(sentence), limit):
                yield sentence[start : start + limit]


def split_text(text: str, max_tokens: int) -> list[str]:
    """Consecutive parts of `text`, each estimated at `max_tokens` or fewer, joined by newlines."""
    limit = max(1, int(max_tokens * DEFAULT_CHARS_PER_TOKEN))
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for piece in _pieces(text, limit):
        if current and size + len(piece) + 1 > limit:
            parts.append("\n".join(current))
            current, size = [], 0
        current.append(piece)
        size += len(piece) + 1
    if current:
        parts.append("\n".join(current))
    return parts
