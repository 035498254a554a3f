"""The Notion API as this stage uses it: notion-client, behind the shared rate budget, with our error model.

API version: notion-client 3.1's default, `2025-09-03` (`NOTION_VERSION`, checked by a test). In it a
database holds data sources: the schema is read from `GET /v1/data_sources/{id}`, pages are created with
`parent: {"type": "data_source_id", ...}` and queried with `POST /v1/data_sources/{id}/query`.

notion-client's own retry is turned off (`retry=False`): it sleeps without telling the other replicas,
retries 500/503 only on GET and never 409, 504 or 529. Here every HTTP request first takes a token from
the Redis bucket shared by all notion workers (an httpx request hook, so nothing can bypass it); a 429 or
529 pauses that bucket for Retry-After, so every replica waits, and the request is sent again within the
same job. Other failures become RetryableError / PermanentError with Notion's message, and the job runner
decides.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any

import httpx
import structlog
from notion_client import Client
from notion_client.errors import HTTPResponseError, RequestTimeoutError
from redis import Redis

from gleaner import metrics, tracing
from gleaner.errors import (
    GleanerError,
    PermanentError,
    RetryableError,
    parse_retry_after,
)
from gleaner.ratelimit import TokenBucket
from gleaner.settings import Settings

log = structlog.get_logger("gleaner_notion.client")

NOTION_VERSION = "2025-09-03"
"""The Notion-Version notion-client sends by default, which the data-source model below follows."""

BUCKET_KEY = "gleaner:ratelimit:notion:{token}"

DEFAULT_REQUEST_TIMEOUT = 30.0
"""Seconds one HTTP request to Notion may take."""

DEFAULT_RATE_WAIT = 45.0
"""Seconds one call may spend waiting for the shared budget and on 429s before the job gives up for now
(below the queue's 60 s job timeout, so the runner, not SIGALRM, records the retry)."""

DEFAULT_OVERLOAD_PAUSE = 1.0
"""Seconds every replica pauses after a 429/529 that carries no Retry-After."""

PERMANENT_STATUSES = frozenset({400, 401, 403, 404})
RETRYABLE_STATUSES = frozenset({409, 429, 500, 502, 503, 504, 529})
PAUSE_STATUSES = frozenset(
    {429, 529}
)  # the other side asks everybody to slow down: wait, then resend


def token_of(settings: Settings) -> str:
    """The integration token; empty means dry run."""
    return settings.NOTION_TOKEN.get_secret_value() if settings.NOTION_TOKEN else ""


def bucket_for(redis: Redis, settings: Settings) -> TokenBucket:
    """The budget of the integration (one per token: two integrations have two budgets)."""
    digest = hashlib.sha256(token_of(settings).encode()).hexdigest()[:16]
    return TokenBucket(
        redis,
        BUCKET_KEY.format(token=digest),
        settings.NOTION_REQUESTS_PER_SECOND,
        settings.NOTION_BURST,
    )


def to_gleaner_error(error: Exception) -> GleanerError:
    """Our failure for a notion-client or httpx error, with Notion's own message and code."""
    if isinstance(error, HTTPResponseError):
        code = str(getattr(error.code, "value", error.code))
        status = error.status
        message = f"Notion answered {status} {code}: {error}"
        retry_after = parse_retry_after(error.headers.get("retry-after"))
        if status in PERMANENT_STATUSES:
            return PermanentError(message, code=f"notion_{code}")
        if status in RETRYABLE_STATUSES or status >= 500:
            kind = (
                "rate_limited" if status in PAUSE_STATUSES else f"notion_http_{status}"
            )
            return RetryableError(message, code=kind, retry_after=retry_after)
        return PermanentError(message, code=f"notion_http_{status}")
    if isinstance(error, RequestTimeoutError | httpx.TimeoutException):
        # A create that timed out may have been applied: the retry looks the page up before creating.
        return RetryableError("Notion did not answer in time", code="notion_timeout")
    if isinstance(error, httpx.TransportError):
        return RetryableError(
            f"cannot reach Notion: {error}", code="notion_unreachable"
        )
    return RetryableError(f"{type(error).__name__}: {error}", code="notion_error")


class NotionApi:
    """The few Notion calls the stage makes; each one rate-limited, 429-tolerant and error-mapped."""

    def __init__(
        self,
        token: str,
        base_url: str,
        bucket: TokenBucket,
        *,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
        rate_wait: float = DEFAULT_RATE_WAIT,
    ) -> None:
        self.bucket = bucket
        self.rate_wait = rate_wait
        self._calls = (
            threading.local()
        )  # workers run jobs in threads: each call has its own deadline
        http = httpx.Client(
            trust_env=False, event_hooks={"request": [self._take_token]}
        )
        # Never `with Client(...)`: it swaps our httpx client (and its hook) for a fresh one.
        self.client = Client(
            client=http,
            auth=token,
            base_url=base_url.rstrip("/"),
            timeout_ms=int(timeout * 1000),
            retry=False,
            logger=logging.getLogger("notion_client"),
            log_level=logging.ERROR,
        )

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis) -> NotionApi:
        token = token_of(settings)
        if not token:
            raise ValueError(
                "no GLEANER_NOTION_TOKEN: the stage runs dry, without a client"
            )
        return cls(token, settings.NOTION_BASE_URL, bucket_for(redis, settings))

    @property
    def notion_version(self) -> str:
        return str(self.client.options.notion_version)

    def close(self) -> None:
        self.client.close()

    def _deadline(self) -> float:
        return float(
            getattr(self._calls, "deadline", time.monotonic() + self.rate_wait)
        )

    def _take_token(self, _request: httpx.Request) -> None:
        waited = self.bucket.acquire(
            timeout=max(0.0, self._deadline() - time.monotonic())
        )
        metrics.observe_ratelimit_wait("notion", waited)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Send one request; on 429/529 pause every replica for Retry-After and send it again."""
        self._calls.deadline = time.monotonic() + self.rate_wait
        while True:
            try:
                result = self.client.request(path=path, method=method, body=body)
            except HTTPResponseError as error:
                metrics.observe_external_request("notion", error.status)
                if error.status not in PAUSE_STATUSES:
                    raise to_gleaner_error(error) from error
                pause = (
                    parse_retry_after(error.headers.get("retry-after"))
                    or DEFAULT_OVERLOAD_PAUSE
                )
                self.bucket.pause(pause)
                log.info(
                    "notion_rate_limited", status=error.status, path=path, pause=pause
                )
                tracing.add_event(
                    "notion_rate_limited", status=error.status, pause=pause
                )
                if time.monotonic() + pause > self._deadline():
                    raise to_gleaner_error(error) from error
                continue
            except (RequestTimeoutError, httpx.HTTPError) as error:
                metrics.observe_external_request(
                    "notion", "timeout" if "imeout" in type(error).__name__ else "error"
                )
                raise to_gleaner_error(error) from error
            metrics.observe_external_request("notion", 200)
            return result

    # --- the calls the stage makes ---------------------------------------------------------------

    def retrieve_database(self, database_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"databases/{database_id}"))

    def retrieve_data_source(self, data_source_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"data_sources/{data_source_id}"))

    def create_page(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("POST", "pages", body))

    def append_children(
        self, block_id: str, children: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return dict(
            self.call("PATCH", f"blocks/{block_id}/children", {"children": children})
        )

    def find_pages_by_url(
        self, data_source_id: str, url_property: str, url: str
    ) -> list[dict[str, Any]]:
        """Pages of the data source whose URL property equals `url` (not in the trash)."""
        body = {
            "filter": {"property": url_property, "url": {"equals": url}},
            "page_size": 10,
        }
        found = self.call("POST", f"data_sources/{data_source_id}/query", body)
        return [
            page
            for page in found.get("results", [])
            if not page.get("in_trash") and not page.get("archived")
        ]
