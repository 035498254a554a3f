"""The article in a fetched page: trafilatura's `bare_extraction` on HTML we fetched ourselves.

Options were chosen on the 181-page article-extraction benchmark (bench/parsing/RESULTS.md):
`favor_precision` drops more boilerplate for a little recall. readability-lxml is the fallback when
trafilatura finds nothing. Metadata uses htmldate without its extensive search, which costs a fifth of
the page time for dates it rarely finds on article pages.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urljoin, urlsplit

import trafilatura
from readability import Document as ReadabilityDocument

# trafilatura logs every page it discards at WARNING; our failure codes say it once, per item.
logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("readability").setLevel(logging.ERROR)

WORD = re.compile(r"\w+")
_HTML_LANG = re.compile(
    rb"<html[^>]*?\slang\s*=\s*[\"']?([a-zA-Z]{2,3}(?:[-_][a-zA-Z0-9]{2,8})?)",
    re.IGNORECASE,
)
_LINK_TAG = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_REL_CANONICAL = re.compile(r"""\brel\s*=\s*["']?canonical\b""", re.IGNORECASE)
_HREF = re.compile(r"""\bhref\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)

DEFAULT_MIN_WORDS = 1
"""Fewer words than this in the extracted text and the page fails with `no_content`."""


@dataclass(frozen=True)
class ExtractOptions:
    """trafilatura's knobs plus our fallback; the benchmark compares variants of this."""

    favor_precision: bool = True
    favor_recall: bool = False
    fast: bool = False  # skip trafilatura's own readability/justext comparison
    include_tables: bool = True
    readability_fallback: bool = True
    fallback_below_words: int = (
        25  # use readability's text when trafilatura's is shorter than this
    )
    date_params: dict[str, Any] = field(
        default_factory=lambda: {"original_date": True, "extensive_search": False}
    )


DEFAULT_OPTIONS = ExtractOptions()


@dataclass(frozen=True)
class Article:
    title: str | None
    text: str
    author: str | None
    published_date: date | None
    site_name: str | None
    language: str | None
    canonical_url: str | None
    word_count: int
    content_hash: (
        str  # sha256 of the text, whitespace-normalized: equal articles hash equal
    )


def extract_article(
    content: str,
    url: str,
    content_type: str = "text/html",
    options: ExtractOptions = DEFAULT_OPTIONS,
) -> Article | None:
    """The article in a page, or None when there is no text worth keeping."""
    if content_type == "text/plain":
        return _article(content.strip(), title=_first_line(content))
    document: Any = trafilatura.bare_extraction(
        content,
        url=url,
        with_metadata=True,
        include_comments=False,
        favor_precision=options.favor_precision,
        favor_recall=options.favor_recall,
        fast=options.fast,
        include_tables=options.include_tables,
        date_extraction_params=dict(options.date_params),
    )
    text = (document.text or "").strip() if document is not None else ""
    if (
        options.readability_fallback
        and count_words(text) < options.fallback_below_words
    ):
        rescued = readability_text(content)
        if count_words(rescued) > count_words(text):
            text = rescued
    if not text:
        return None
    meta = document
    return _article(
        text,
        title=_clean(meta.title) if meta else None,
        author=_clean(meta.author) if meta else None,
        published=_parse_date(meta.date) if meta else None,
        site_name=_clean(meta.sitename) if meta else None,
        language=html_language(content),
        canonical_url=_canonical(canonical_link(content), url),
    )


def readability_text(html: str) -> str:
    try:
        summary = ReadabilityDocument(html).summary(html_partial=False)
        return str(trafilatura.html2txt(summary, clean=True)).strip()
    except (ValueError, TypeError):  # readability's Unparseable is a ValueError
        return ""


def count_words(text: str) -> int:
    return len(WORD.findall(text))


def content_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def html_language(html: str) -> str | None:
    """The page's declared language (`<html lang>`), normalized to a lower-case tag like `en` or `pt-br`."""
    match = _HTML_LANG.search(html[:8192].encode("utf-8", errors="ignore"))
    return match.group(1).decode("ascii").lower().replace("_", "-") if match else None


def _article(
    text: str,
    *,
    title: str | None = None,
    author: str | None = None,
    published: date | None = None,
    site_name: str | None = None,
    language: str | None = None,
    canonical_url: str | None = None,
) -> Article | None:
    words = count_words(text)
    if words < DEFAULT_MIN_WORDS:
        return None
    return Article(
        title,
        text,
        author,
        published,
        site_name,
        language,
        canonical_url,
        words,
        content_hash(text),
    )


def canonical_link(html: str) -> str | None:
    """The href of `<link rel="canonical">` in the page's head, as written."""
    head = html[: html.find("</head>")] if "</head>" in html else html[:16384]
    for tag in _LINK_TAG.findall(head):
        if _REL_CANONICAL.search(tag):
            href = _HREF.search(tag)
            return href.group(1).strip() if href else None
    return None


def _canonical(found: str | None, url: str) -> str | None:
    if not found:
        return None
    absolute = urljoin(url, found)
    return absolute if urlsplit(absolute).scheme in ("http", "https") else None


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _clean(value: str | None) -> str | None:
    value = " ".join(value.split()) if value else ""
    return value or None


def _first_line(text: str) -> str | None:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return None
