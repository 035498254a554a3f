"""Webhooks: a signed POST to the owner's endpoints when a task ends (and, if asked, when an item ends).

Events are found from SQL state, not raised by the workers: each pass, `collect_events` looks at tasks
(and items) that ended recently and adds one `webhook_deliveries` row per endpoint and event (unique,
so two passes or two replicas add it once). `deliver_due` then sends what is due, outside every stage:
a slow or failing receiver delays only its own deliveries, never a worker.

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
import json
import random
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gleaner.addresses import (
    AddressPolicy,
    BlockedAddress,
    GuardedBackend,
    install_backend,
    parse_ip_literal,
)
from gleaner.db import insert_ignoring_conflicts, rowcount
from gleaner.models import (
    FINISHED_ITEM_STATUSES,
    ProcessingTask,
    TaskItem,
    TaskStatus,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from gleaner.runtime import Runtime
from gleaner.settings import Settings

log = structlog.get_logger("gleaner.webhooks")

ENDED_TASK_STATUSES = (
    TaskStatus.COMPLETED,
    TaskStatus.FAILED,
    TaskStatus.PARTIALLY_FAILED,
    TaskStatus.CANCELLED,
)

DEFAULT_EVENT_WINDOW = timedelta(days=1)
"""How far back a pass looks for ended tasks and items (events older than that were handled already)."""

DEFAULT_BATCH = 200
"""Deliveries sent per pass and endpoint rows looked at; the rest wait for the next pass."""

DEFAULT_POLL_SECONDS = 1.0

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


# --- delivery -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    outcome: str  # delivered | retry | failed | disabled
    status_code: int | None
    error: str | None


def make_client(settings: Settings) -> httpx.Client:
    """An HTTP client whose every connection goes through the SSRF guard; no redirects, no proxies."""
    policy = AddressPolicy.build(
        settings.WEBHOOK_ALLOWED_PORTS, settings.WEBHOOK_ALLOW_NETWORKS
    )
    transport = httpx.HTTPTransport()
    install_backend(transport, GuardedBackend(policy))
    return httpx.Client(
        transport=transport,
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(settings.WEBHOOK_TIMEOUT_SECONDS),
        headers={
            "User-Agent": settings.FETCH_USER_AGENT,
            "Content-Type": "application/json",
        },
    )


def deliver_due(
    sessions: sessionmaker[Session], client: httpx.Client, settings: Settings
) -> list[Attempt]:
    """Send every due delivery once; returns what each attempt came to."""
    now = utcnow()
    with sessions() as session:
        due = session.execute(
            select(WebhookDelivery.id, WebhookDelivery.next_attempt_at)
            .where(
                WebhookDelivery.state == "pending",
                WebhookDelivery.next_attempt_at <= now,
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(DEFAULT_BATCH)
        ).all()
    attempts = []
    for delivery_id, at in due:
        if at is None:
            continue
        attempt = _deliver_one(sessions, client, settings, delivery_id, at)
        if attempt is not None:
            attempts.append(attempt)
    return attempts


def _deliver_one(
    sessions: sessionmaker[Session],
    client: httpx.Client,
    settings: Settings,
    delivery_id: int,
    due: datetime,
) -> Attempt | None:
    lease = timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + 30)
    with sessions() as session:
        claimed = rowcount(
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.state == "pending",
                    WebhookDelivery.next_attempt_at == due,
                )
                .values(next_attempt_at=utcnow() + lease)
            )
        )
        session.commit()
        if not claimed:
            return None  # another deliverer has it
        delivery = session.get_one(WebhookDelivery, delivery_id)
        endpoint = session.get_one(WebhookEndpoint, delivery.endpoint_id)
        url, secret, payload = endpoint.url, endpoint.secret, delivery.payload
        disabled = endpoint.disabled_at is not None
    status_code: int | None
    error: str | None
    if disabled:
        status_code, error, seconds = None, "the endpoint is disabled", 0.0
    else:
        status_code, error, seconds = _post(client, url, secret, delivery_id, payload)
    return _record(
        sessions, settings, delivery_id, status_code, error, seconds, disabled
    )


def _post(
    client: httpx.Client,
    url: str,
    secret: str,
    delivery_id: int,
    payload: dict[str, Any],
) -> tuple[int | None, str | None, float]:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    message_id = f"msg_{delivery_id}"
    timestamp = int(time.time())
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }
    started = time.monotonic()
    try:
        response = client.post(url, content=body, headers=headers)
    except BlockedAddress as exc:
        return None, f"blocked: {exc.reason}", time.monotonic() - started
    except httpx.TimeoutException:
        return None, "timeout", time.monotonic() - started
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}", time.monotonic() - started
    return response.status_code, None, time.monotonic() - started


def _record(
    sessions: sessionmaker[Session],
    settings: Settings,
    delivery_id: int,
    status_code: int | None,
    error: str | None,
    seconds: float,
    disabled: bool,
) -> Attempt:
    now = utcnow()
    with sessions() as session:
        delivery = session.get_one(WebhookDelivery, delivery_id)
        delivery.attempts += 1
        delivery.last_status_code = status_code
        delivery.last_error = error
        delivery.log = [
            *delivery.log,
            {
                "attempt": delivery.attempts,
                "at": now.isoformat(),
                "status_code": status_code,
                "error": error,
                "duration_seconds": round(seconds, 3),
            },
        ]
        if status_code is not None and 200 <= status_code < 300:
            outcome = "delivered"
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif status_code == 410 or disabled:
            outcome = "disabled"
            _disable(
                session, delivery.endpoint_id, "the receiver answered 410 Gone", now
            )
            delivery.next_attempt_at = None
        elif (error or "").startswith(
            "blocked:"
        ) or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            outcome = "failed"  # an address the guard refuses will not become allowed by waiting
            delivery.next_attempt_at = None
        else:
            outcome = "retry"
            delivery.next_attempt_at = now + timedelta(
                seconds=backoff(settings, delivery.attempts)
            )
        delivery.state = "pending" if outcome == "retry" else outcome
        session.commit()
    log.info(
        "webhook_attempt",
        delivery_id=delivery_id,
        outcome=outcome,
        status_code=status_code,
        error=error,
    )
    return Attempt(delivery_id, outcome, status_code, error)


def backoff(settings: Settings, attempts: int) -> float:
    raw = min(
        settings.WEBHOOK_RETRY_MAX_SECONDS,
        settings.WEBHOOK_RETRY_BASE_SECONDS * 2.0 ** min(attempts - 1, 30),
    )
    return raw * (1.0 - 0.5 * random.random())


def _disable(session: Session, endpoint_id: int, reason: str, now: datetime) -> None:
    session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.disabled_at.is_(None))
        .values(disabled_at=now, disabled_reason=reason)
    )
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.state == "pending",
        )
        .values(state="disabled", next_attempt_at=None)
    )


class Deliverer:
    """The loop the reconciler runs in a thread: collect events, send what is due, every second."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.stop = threading.Event()

    def run(self) -> None:
        with make_client(self.runtime.settings) as client:
            while not self.stop.is_set():
                try:
                    with self.runtime.sessions() as session:
                        collect_events(session)
                        session.commit()
                    deliver_due(self.runtime.sessions, client, self.runtime.settings)
                except SQLAlchemyError as exc:  # the database is down: next tick
                    log.warning(
                        "webhook_pass_failed", error=f"{type(exc).__name__}: {exc}"
                    )
                self.stop.wait(DEFAULT_POLL_SECONDS)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="webhooks", daemon=True)
        thread.start()
        return thread


class WebhookCollector(Collector):
    """Deliveries by outcome and the backlog, read from SQL at scrape time (every API replica alike)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> list[Metric]:
        total, backlog, oldest = self._families()
        try:
            with self.sessions() as session:
                by_state = dict(
                    session.execute(
                        select(WebhookDelivery.state, func.count()).group_by(
                            WebhookDelivery.state
                        )
                    ).all()
                )
                first = session.scalar(
                    select(func.min(WebhookDelivery.created_at)).where(
                        WebhookDelivery.state == "pending"
                    )
                )
        except SQLAlchemyError:
            return []
        for outcome in ("delivered", "failed", "disabled"):
            total.add_metric([outcome], by_state.get(outcome, 0))
        backlog.add_metric([], by_state.get("pending", 0))
        oldest.add_metric([], (utcnow() - first).total_seconds() if first else 0.0)
        return [total, backlog, oldest]

    @staticmethod
    def _families() -> tuple[CounterMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            CounterMetricFamily(
                "gleaner_webhook_deliveries",
                "Webhook deliveries that ended, by outcome: delivered (2xx), failed (attempts used up or "
                "address refused), disabled (the receiver answered 410).",
                labels=["outcome"],
            ),
            GaugeMetricFamily(
                "gleaner_webhook_backlog",
                "Webhook deliveries not yet delivered (waiting for their first try or a retry).",
            ),
            GaugeMetricFamily(
                "gleaner_webhook_backlog_oldest_seconds",
                "Age of the oldest undelivered webhook delivery; 0 when none waits.",
            ),
        )
