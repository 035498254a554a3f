"""Links as users give them: only http(s), length-checked, normalized, one row per owner and URL."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urldefrag, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from url_normalize import url_normalize

from gleaner.db import insert_ignoring_conflicts
from gleaner.errors import InvalidRequest
from gleaner.models import Link


def normalize_url(url: str, max_length: int) -> str:
    """The canonical spelling of `url` (case, default port, percent-encoding, no fragment), or InvalidRequest."""
    raw = url.strip()
    if not raw:
        raise InvalidRequest("the URL is empty", code="invalid_url")
    if len(raw) > max_length:
        raise InvalidRequest(
            f"the URL is longer than {max_length} characters", code="url_too_long"
        )
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidRequest(
            f"only http and https URLs can be fetched, not {raw[:100]!r}",
            code="invalid_url",
        )
    if not parts.hostname:
        raise InvalidRequest(f"the URL has no host: {raw[:100]!r}", code="invalid_url")
    try:
        normalized = url_normalize(raw)
    except (ValueError, UnicodeError) as exc:
        raise InvalidRequest(
            f"the URL cannot be read: {exc}", code="invalid_url"
        ) from exc
    if not normalized:
        raise InvalidRequest(
            f"the URL cannot be read: {raw[:100]!r}", code="invalid_url"
        )
    return urldefrag(normalized).url


def get_or_create_links(
    session: Session, owner: str, urls: Sequence[str], max_length: int
) -> tuple[list[Link], int]:
    """One Link per distinct normalized URL, in first-seen order, and how many were new.

    Every URL is checked before anything is written, so one bad URL rejects the whole request. Two
    requests racing to save the same URL meet at the unique constraint, and both get the one row.
    """
    wanted: dict[str, str] = {}
    for url in urls:
        wanted.setdefault(normalize_url(url, max_length), url.strip())
    if not wanted:
        return [], 0

    def existing() -> dict[str, Link]:
        query = select(Link).where(
            Link.owner == owner, Link.normalized_url.in_(list(wanted))
        )
        return {link.normalized_url: link for link in session.scalars(query)}

    before = existing()
    missing = [
        {"owner": owner, "url": original, "normalized_url": normalized}
        for normalized, original in wanted.items()
        if normalized not in before
    ]
    created = insert_ignoring_conflicts(
        session, Link, missing, ["owner", "normalized_url"]
    )
    after = existing() if missing else before
    return [after[normalized] for normalized in wanted], created
