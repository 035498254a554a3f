"""API keys: random bearer tokens, stored only as their sha256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gleaner.models import ApiKey, utcnow

KEY_PREFIX = "glr_"


def hash_key(key: str) -> str:
    # Keys are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    session: Session,
    name: str,
    owner: str,
    key: str | None = None,
    *,
    operator: bool = False,
) -> tuple[ApiKey, str]:
    """A new key for `owner`; returns the row and the plaintext key (shown once, never stored).

    An operator key may also read every tenant's queue and worker figures (/api/monitoring).
    """
    plaintext = key or KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        owner=owner,
        key_hash=hash_key(plaintext),
        prefix=plaintext[:8],
        is_operator=operator,
    )
    session.add(row)
    session.flush()
    return row, plaintext


def ensure_api_key(session: Session, name: str, owner: str, key: str) -> None:
    """Register a key given from outside (a Kubernetes Secret) if it is not known yet.

    It is the deployer's own first key, so it is an operator key.
    """
    if (
        session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(key)))
        is None
    ):
        create_api_key(session, name, owner, key, operator=True)


@dataclass(frozen=True)
class Caller:
    """Who a valid key speaks for."""

    owner: str
    is_operator: bool = False


def caller_for_key(session: Session, key: str) -> Caller | None:
    """The owner (and operator flag) of a valid, unrevoked key, or None."""
    row = session.scalar(
        select(ApiKey).where(
            ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None)
        )
    )
    if row is None:
        return None
    now = utcnow()
    # Written at most once a minute per key, so reads stay reads.
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        session.execute(
            update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now)
        )
    return Caller(row.owner, row.is_operator)
