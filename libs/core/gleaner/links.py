"""Links as users give them: only http(s), length-checked, normalized, one row per owner and URL."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast
from urllib.parse import urldefrag, urlsplit

from sqlalchemy import Table, select
from sqlalchemy.orm import Session
from url_normalize import url_normalize

from gleaner.db import in_values, insert_columns
from gleaner.errors import InvalidRequest
from gleaner.models import Link, utcnow

# A host after normalization (IDNA applied): DNS labels or an IPv4 literal; IPv6 is checked apart.
_HOST = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
CANONICAL_URL = re.compile(
    r"(https?)://"
    r"(?:(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
    rf"|{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET})"
    r"(?::([1-9][0-9]{0,4}))?"
    r"(?:(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+/?|/)"
    r"(?:\?[A-Za-z0-9._~-]+(?:=[A-Za-z0-9._~-]*)?(?:&[A-Za-z0-9._~-]+(?:=[A-Za-z0-9._~-]*)?)*)?"
)
"""URLs maybe in canonical form (lowercase host name or an IPv4 address, a clean path, no credentials,
escape or fragment); is_canonical checks the port too."""

_DEFAULT_PORT = {"http": "80", "https": "443"}


def is_canonical(url: str) -> bool:
    """Whether `url` is canonical already: every check below passes and url_normalize returns it
    unchanged (tests/core/test_links.py checks it), so a 10,000-link batch skips url_normalize, most
    of its submit CPU otherwise. A port must be 1 to 65535 and not the scheme's default."""
    match = CANONICAL_URL.fullmatch(url)
    if match is None:
        return False
    port = match[2]
    return port is None or (int(port) <= 65535 and port != _DEFAULT_PORT[match[1]])


def normalize_url(url: str, max_length: int) -> str:
    """The canonical spelling of `url` (case, default port, percent-encoding, no fragment), or InvalidRequest.

    Everything a fetch would fail on is refused here, at submit: a host that cannot be one, a port that
    is not a number from 1 to 65535, and user:password credentials (they would be stored and shown).
    """
    raw = url.strip()
    if not raw:
        raise InvalidRequest("the URL is empty", code="invalid_url")
    if len(raw) > max_length:
        raise InvalidRequest(
            f"the URL is longer than {max_length} characters", code="url_too_long"
        )
    if is_canonical(raw):
        return raw
    try:
        parts = urlsplit(raw)
        port = parts.port  # ValueError when it is not a number from 0 to 65535
    except ValueError as exc:
        raise InvalidRequest(
            f"the URL cannot be read ({exc}): {raw[:100]!r}", code="invalid_url"
        ) from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidRequest(
            f"only http and https URLs can be fetched, not {raw[:100]!r}",
            code="invalid_url",
        )
    if not parts.hostname:
        raise InvalidRequest(f"the URL has no host: {raw[:100]!r}", code="invalid_url")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest(
            "the URL carries credentials (user:password@); they are never stored, remove them",
            code="url_has_credentials",
        )
    if port == 0:
        raise InvalidRequest(f"port 0 in {raw[:100]!r}", code="invalid_url")
    try:
        normalized = url_normalize(raw)
    except (ValueError, UnicodeError) as exc:
        raise InvalidRequest(
            f"the URL cannot be read: {exc}", code="invalid_url"
        ) from exc
    host = urlsplit(normalized or "").hostname or ""
    if not normalized or not (_HOST.fullmatch(host) or _is_ipv6(host)):
        raise InvalidRequest(
            f"the URL's host is not a host name or address: {raw[:100]!r}",
            code="invalid_url",
        )
    return urldefrag(normalized).url


def _is_ipv6(host: str) -> bool:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def normalize_urls(urls: Sequence[str], max_length: int, field: str) -> list[str]:
    """Every URL normalized, or one InvalidRequest listing each bad one with its index in `field`."""
    normalized: list[str] = []
    problems: list[dict[str, Any]] = []
    for index, url in enumerate(urls):
        try:
            normalized.append(normalize_url(url, max_length))
        except InvalidRequest as exc:
            problems.append(
                {
                    "location": ["body", field, index],
                    "message": exc.message,
                    "type": exc.code,
                }
            )
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InvalidRequest(
            f"{field}[{first['location'][2]}]: {first['message']}{more}",
            code=str(first["type"]),
            details=problems,
        )
    return normalized


class SavedLink(NamedTuple):
    """A stored link, as a submit returns it."""

    id: int
    url: str
    normalized_url: str
    created_at: datetime


def get_or_create_links(
    session: Session,
    owner: str,
    urls: Sequence[str],
    max_length: int,
    field: str = "urls",
) -> tuple[list[SavedLink], int]:
    """One link per distinct normalized URL, in first-seen order, and how many were new.

    Every URL is checked before anything is written, so one bad URL rejects the whole request. Two
    requests racing to save the same URL meet at the unique constraint, and both get the one row.
    """
    wanted: dict[str, str] = {}
    for url, normalized in zip(
        urls, normalize_urls(urls, max_length, field), strict=True
    ):
        wanted.setdefault(normalized, url.strip())
    if not wanted:
        return [], 0

    def existing(normalized: Sequence[str]) -> dict[str, SavedLink]:
        # plain rows, not ORM objects, and the URLs bound as one parameter (gleaner.db.in_values)
        query = select(Link.id, Link.url, Link.normalized_url, Link.created_at).where(
            Link.owner == owner, in_values(session, Link.normalized_url, normalized)
        )
        return {row.normalized_url: SavedLink(*row) for row in session.execute(query)}

    found = existing(list(wanted))
    missing = [normalized for normalized in wanted if normalized not in found]
    if missing:
        now = utcnow()
        inserted = insert_columns(
            session,
            cast(Table, Link.__table__),
            {"url": [wanted[n] for n in missing], "normalized_url": missing},
            {"owner": owner, "created_at": now},
            conflict=["owner", "normalized_url"],
            returning=["id", "normalized_url"],
        )
        for row in inserted:
            normalized = row.normalized_url
            found[normalized] = SavedLink(row.id, wanted[normalized], normalized, now)
        if len(inserted) < len(missing):  # another request saved some of them meanwhile
            found.update(existing([n for n in missing if n not in found]))
        created = len(inserted)
    else:
        created = 0
    return [found[normalized] for normalized in wanted], created
