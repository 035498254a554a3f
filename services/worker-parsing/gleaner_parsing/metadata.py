"""A page's metadata (title, author, date, site name), read with trafilatura's own rules but only what we store.

trafilatura's `extract_metadata` (what `with_metadata=True` runs) also collects categories, tags, a license
and a hostname, which cost about a third of its time and which ParsedContent has no column for. This
module runs the same steps in the same order for the four fields we keep, on the tree the extractor
parsed once, so the values are those `with_metadata=True` gives (tests/parsing/test_metadata.py compares
them page by page).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import unescape
from typing import Any

from htmldate import find_date
from lxml.html import HtmlElement  # type: ignore[import-untyped]
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.utils import line_processing


@dataclass(frozen=True)
class Metadata:
    title: str | None
    author: str | None
    date: str | None  # YYYY-MM-DD, as htmldate gives it
    sitename: str | None
    description: str | None = (
        None  # the page's own summary, to recognise it atop the text
    )


def read_metadata(
    tree: HtmlElement, url: str | None, date_params: dict[str, Any]
) -> Metadata:
    """Title, author, date and site name of a parsed page; `tree` is only read, never changed."""
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = (
            None  # trafilatura drops one-word authors from meta tags (often a handle)
        )
    try:
        meta = extract_meta_json(tree, meta)
    except Exception:
        pass
    title = meta.title or extract_title(tree)
    author = meta.author or extract_author(tree)
    page_url = meta.url or extract_url(tree, url)
    published = find_date(tree, **{**date_params, "url": page_url})
    sitename = meta.sitename or extract_sitename(tree)
    if sitename:
        sitename = sitename.lstrip("@")
        if sitename and "." not in sitename and not sitename[0].isupper():
            sitename = sitename.title()
    elif page_url and (match := META_URL.match(page_url)):
        sitename = match[1]
    return Metadata(
        _trim(title),
        _trim(author),
        _trim(published),
        _trim(sitename),
        _trim(meta.description),
    )


def _trim(value: str | None) -> str | None:
    """trafilatura's `Document.clean_and_trim` for one field: length cap, entities, spaces."""
    if not value:
        return value or None
    if len(value) > 10000:
        value = value[:9999] + "…"
    return line_processing(unescape(value)) or None
