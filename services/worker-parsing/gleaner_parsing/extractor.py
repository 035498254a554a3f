"""The article in a fetched page: trafilatura's `bare_extraction` on HTML we fetched ourselves.

Options are chosen by hold-out on the 181-page article-extraction benchmark (bench/parsing/holdout.py,
RESULTS.md): the pages are split with a fixed seed, options are picked on the tuning half only and kept
only if they also win on the test half. Kept: `fast` (no second opinion from trafilatura's
readability/justext copies) and two cleanup rules on its text (gleaner_parsing.cleanup): "Read more:"
/ "Related:" pointer lines and short calls to follow, share or subscribe. `favor_precision` won on the
tuning half and lost on the test half, `favor_recall` lost on the tuning half. Lines hard-wrapped by
the page are re-flowed into their paragraph (same words, so F1-neutral, but the digest needs whole
sentences). readability-lxml is the fallback when trafilatura finds (almost) nothing. The page is
parsed once; metadata is read from that tree (gleaner_parsing.metadata) with htmldate's quick search.
The language is read from the text (gleaner.language), the page's `<html lang>` deciding when unsure.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urljoin, urlsplit

import trafilatura
from lxml.html import HtmlElement  # type: ignore[import-untyped]
from readability import Document as ReadabilityDocument
from trafilatura import load_html

from gleaner.language import detect_language
from gleaner_parsing import cleanup
from gleaner_parsing.metadata import read_metadata

# trafilatura logs every page it discards at WARNING; our failure codes say it once, per item.
logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("readability").setLevel(logging.ERROR)

WORD = re.compile(r"\w+")

_LXML_LOCK = threading.Lock()
"""One extraction at a time per process. trafilatura parses with one module-level lxml HTMLParser
shared by every thread, which lxml does not support (a parser's libxml2 dictionary is not thread-safe),
and lxml releases the GIL while it parses and copies trees: two job threads extracting at once crash
the process now and then with SIGSEGV or "double free or corruption" (bench/parsing/RESULTS.md has
the reproduction; upstream: trafilatura issues 840 and 925). Extraction holds the GIL for almost all
its time anyway, so the lock costs nothing the GIL was not already taking; fetches and SQL of the
other job threads still overlap with it."""
_LANG_TAG = re.compile(r"[a-zA-Z]{2,3}(?:[-_][a-zA-Z0-9]{2,8})?")

DEFAULT_MIN_WORDS = 1
"""Fewer words than this in the extracted text and the page fails with `no_content`."""


@dataclass(frozen=True)
class ExtractOptions:
    """trafilatura's knobs plus our fallback; the benchmark compares variants of this."""

    favor_precision: bool = False
    favor_recall: bool = False
    fast: bool = True  # skip trafilatura's own readability/justext comparison
    include_tables: bool = True
    readability_fallback: bool = True
    fallback_below_words: int = (
        25  # use readability's text when trafilatura's is shorter than this
    )
    # Rules on the extracted text (gleaner_parsing.cleanup), kept by hold-out (bench/parsing/holdout.py).
    reflow: bool = True  # F1-neutral (same words); kept for the digest's paragraphs
    drop_heading: bool = False
    drop_pointers: bool = True
    drop_calls_to_action: bool = True
    drop_timestamps: bool = False
    drop_shouting: bool = False
    drop_trailing_list: bool = False
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
        text = content.strip()
        return _article(
            text, title=_first_line(content), language=detect_language(text)
        )
    with _LXML_LOCK:
        return _extract_html(content, url, options)


def _extract_html(content: str, url: str, options: ExtractOptions) -> Article | None:
    # Parsed once: the metadata readers and the canonical/lang lookups read this tree, and
    # bare_extraction works on its own copy of it (a copy costs a quarter of a parse).
    tree = load_html(content)
    if tree is None:
        return None
    meta = read_metadata(tree, url, options.date_params)
    document: Any = trafilatura.bare_extraction(
        tree,
        url=url,
        include_comments=False,
        favor_precision=options.favor_precision,
        favor_recall=options.favor_recall,
        fast=options.fast,
        include_tables=options.include_tables,
    )
    text = (document.text or "").strip() if document is not None else ""
    text = clean_text(text, meta.title, meta.description, options)
    words = count_words(text)
    if options.readability_fallback and words < options.fallback_below_words:
        rescued = readability_text(content)
        if (rescued_words := count_words(rescued)) > words:
            text, words = rescued, rescued_words
    if not text:
        return None
    return _article(
        text,
        words=words,
        title=_clean(meta.title),
        author=_clean(meta.author),
        published=_parse_date(meta.date),
        site_name=_clean(meta.sitename),
        # The text says which language it is in; the page's declaration decides when CLD2 is unsure.
        language=detect_language(text, page_language(tree)),
        canonical_url=_canonical(canonical_link(tree), url),
    )


def clean_text(
    text: str, title: str | None, description: str | None, options: ExtractOptions
) -> str:
    """The extracted text with the cleanup rules the options switch on."""
    if options.reflow:
        text = cleanup.reflow(text)
    lines = text.splitlines()
    if options.drop_heading:
        lines = cleanup.drop_heading(lines, title, description)
    checks = [
        (options.drop_pointers, cleanup.is_pointer),
        (options.drop_calls_to_action, cleanup.is_call_to_action),
        (options.drop_timestamps, cleanup.is_timestamp),
        (options.drop_shouting, cleanup.is_shouting),
    ]
    active = [check for wanted, check in checks if wanted]
    if active:
        lines = [line for line in lines if not any(check(line) for check in active)]
    if options.drop_trailing_list:
        lines = cleanup.drop_trailing_list(lines)
    cleaned = "\n".join(lines).strip()
    return (
        cleaned or text
    )  # a page that is all "furniture" by these rules keeps what it had


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


def page_language(tree: HtmlElement) -> str | None:
    """The page's declared language (`<html lang>`), normalized to a lower-case tag like `en` or `pt-br`."""
    match = _LANG_TAG.match((tree.get("lang") or "").strip())
    return match.group(0).lower().replace("_", "-") if match else None


def _article(
    text: str,
    *,
    title: str | None = None,
    author: str | None = None,
    published: date | None = None,
    site_name: str | None = None,
    language: str | None = None,
    canonical_url: str | None = None,
    words: int | None = None,
) -> Article | None:
    words = count_words(text) if words is None else words
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


def canonical_link(tree: HtmlElement) -> str | None:
    """The href of the first `<link rel="canonical">` in the head, as written (a body's is not honoured)."""
    head = tree.find("head")
    for link in head.iterfind(".//link[@rel][@href]") if head is not None else ():
        if "canonical" in link.get("rel", "").lower().split():
            return link.get("href", "").strip() or None
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
