"""Webhooks: a signed POST to the owner's endpoints when a task ends (and, if asked, when an item ends).

Events are found from SQL state, not raised by the workers: each pass, `collect_events` looks at tasks
(and items) that ended recently and adds one `webhook_deliveries` row per endpoint and event (unique,
so two passes or two replicas add it once). gleaner.deliveries then sends what is due, outside every
stage: a slow or failing receiver delays only its own deliveries, never a worker.

- Delivered at least once: a delivery is claimed by moving its `next_attempt_at` (a lease, so a
  deliverer that dies mid-call leaves it to be tried again), and finished only after the receiver's 2xx.
- Retries back off exponentially (WEBHOOK_RETRY_BASE_SECONDS × 2^(attempt-1), capped, with jitter) up to
  WEBHOOK_MAX_ATTEMPTS; every attempt is in the delivery's `log`.
- 410 Gone from the receiver disables the endpoint: nothing more is sent to it.
- The target goes through the fetcher's SSRF guard (gleaner.addresses): private, loopback and metadata
  addresses are refused unless WEBHOOK_ALLOW_NETWORKS opens them; redirects are not followed.
- Signed as Standard Webhooks says: headers `webhook-id`, `webhook-timestamp` and
  `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, keyed with the base64 part of
  the endpoint's `whsec_…` secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from gleaner.addresses import (
    AddressPolicy,
    BlockedAddress,
    parse_ip_literal,
)
from gleaner.db import insert_ignoring_conflicts
from gleaner.models import (
    FINISHED_ITEM_STATUSES,
    ProcessingTask,
    TaskItem,
    TaskStatus,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from gleaner.settings import Settings

ENDED_TASK_STATUSES = (
    TaskStatus.COMPLETED,
    TaskStatus.FAILED,
    TaskStatus.PARTIALLY_FAILED,
    TaskStatus.CANCELLED,
)

DEFAULT_EVENT_WINDOW = timedelta(days=1)
"""How far back a pass looks for ended tasks and items (events older than that were handled already)."""

DEFAULT_BATCH = 200
"""Tasks (and items) looked at per endpoint and pass; the rest are picked up by the next passes."""

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one message (Standard Webhooks, v1 = HMAC-SHA256)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def check_target(url: str, settings: Settings) -> None:
    """422 for a URL a webhook may not have: not http(s), a refused port, or an address the guard
    refuses (for a name, its addresses are checked again at every connection)."""
    from gleaner.errors import InvalidRequest

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise InvalidRequest(f"not a URL: {exc}", code="invalid_webhook_url") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidRequest(
            "a webhook URL is http(s)://host/…", code="invalid_webhook_url"
        )
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    policy = AddressPolicy.build(
        settings.WEBHOOK_ALLOWED_PORTS, settings.WEBHOOK_ALLOW_NETWORKS
    )
    literal = parse_ip_literal(parsed.host)
    try:
        if literal is not None:
            policy.check(literal, port)
        elif port not in policy.allowed_ports:
            raise BlockedAddress(f"port {port} is not allowed", port_rule=True)
    except BlockedAddress as exc:
        raise InvalidRequest(
            f"webhook target refused: {exc.reason} (GLEANER_WEBHOOK_ALLOW_NETWORKS opens a known "
            "internal receiver)",
            code="invalid_webhook_url",
        ) from None


# --- events -------------------------------------------------------------------------------------------


def task_payload(task: ProcessingTask) -> dict[str, Any]:
    return {
        "type": "task.ended",
        "task": {
            "id": task.id,
            "type": task.type,
            "status": task.status,
            "total_items": task.total_items,
            "completed_items": task.completed_items,
            "failed_items": task.failed_items,
            "cancelled_items": task.cancelled_items,
            "completed_at": task.completed_at.isoformat()
            if task.completed_at
            else None,
        },
        "links": {
            "task": f"/api/tasks/{task.id}",
            "items": f"/api/tasks/{task.id}?include_items=true",
        },
    }


def item_payload(item: TaskItem) -> dict[str, Any]:
    links = {"task": f"/api/tasks/{item.task_id}"}
    if item.link_id is not None:
        links["link"] = f"/api/links/{item.link_id}"
    return {
        "type": "item.ended",
        "task_id": item.task_id,
        "item": {
            "id": item.id,
            "status": item.status,
            "stage": item.stage,
            "error_code": item.error_code,
            "error_message": item.error_message,
            "link_id": item.link_id,
            "notion_import_id": item.notion_import_id,
        },
        "links": links,
    }


def collect_events(session: Session, now: datetime | None = None) -> int:
    """Add the deliveries of tasks and items that ended since each endpoint was made; returns how many."""
    now = now or utcnow()
    added = 0
    endpoints = session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.disabled_at.is_(None))
    ).all()
    for endpoint in endpoints:
        since = max(endpoint.created_at, now - DEFAULT_EVENT_WINDOW)
        rows: list[dict[str, Any]] = []
        tasks = select(ProcessingTask).where(
            ProcessingTask.owner == endpoint.owner,
            ProcessingTask.status.in_(ENDED_TASK_STATUSES),
            ProcessingTask.completed_at >= since,
        )
        if endpoint.task_id is not None:
            tasks = tasks.where(ProcessingTask.id == endpoint.task_id)
        for task in session.scalars(tasks.limit(DEFAULT_BATCH)):
            # a task retried after it ended ends again: a new event
            rows.append(
                _row(
                    endpoint,
                    f"task:{task.id}:{task.retry_count}",
                    task_payload(task),
                    now,
                )
            )
        if endpoint.per_item:
            items = (
                select(TaskItem)
                .join(ProcessingTask, ProcessingTask.id == TaskItem.task_id)
                .where(
                    ProcessingTask.owner == endpoint.owner,
                    TaskItem.status.in_(FINISHED_ITEM_STATUSES),
                    TaskItem.completed_at >= since,
                )
            )
            if endpoint.task_id is not None:
                items = items.where(TaskItem.task_id == endpoint.task_id)
            for item in session.scalars(items.limit(DEFAULT_BATCH)):
                assert item.completed_at is not None
                key = f"item:{item.id}:{int(item.completed_at.timestamp() * 1000)}"
                rows.append(_row(endpoint, key, item_payload(item), now))
        if rows:
            added += insert_ignoring_conflicts(
                session, WebhookDelivery, rows, ["endpoint_id", "event_key"]
            )
    return added


def _row(
    endpoint: WebhookEndpoint, key: str, payload: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "endpoint_id": endpoint.id,
        "event_key": key,
        "event": payload["type"],
        "payload": payload,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "log": [],
        "created_at": now,
    }
