"""Webhook delivery: send what is due, signed, through the SSRF guard; record every attempt.

Runs in the reconciler pods (`Deliverer`, a thread), never in a worker, so a slow or failing receiver
delays only its own deliveries. A delivery is claimed by moving its `next_attempt_at` forward (a lease:
a deliverer that dies mid-call leaves it to be tried again — at least once), finished on the receiver's
2xx, retried with exponential backoff and jitter up to WEBHOOK_MAX_ATTEMPTS, and a 410 disables the
endpoint. The metrics are read from the delivery table at scrape time.
"""

from __future__ import annotations

import json
import random
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
)
from gleaner.db import rowcount
from gleaner.models import WebhookDelivery, WebhookEndpoint, utcnow
from gleaner.runtime import Runtime
from gleaner.settings import Settings
from gleaner.webhooks import collect_events, sign

log = structlog.get_logger("gleaner.webhooks")

DEFAULT_BATCH = 200
"""Deliveries sent per pass; the rest wait for the next pass."""

DEFAULT_POLL_SECONDS = 1.0
"""How often a deliverer looks for due deliveries."""


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
