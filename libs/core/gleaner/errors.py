"""The failure model: what a job raises, and what the API answers.

Jobs raise `RetryableError` (try again later, honouring `retry_after`) or `PermanentError` (fail the item
now with its reason). Every error has a stable snake_case `code` that clients and metrics can rely on.
The API renders `GleanerError` subclasses as `{"error": {"code", "message", "details"}}` with `status_code`.
"""

from __future__ import annotations

from typing import Any


class GleanerError(Exception):
    """Base of every error Gleaner raises on purpose."""

    code: str = "error"
    status_code: int = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.details = details

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# --- job outcomes -----------------------------------------------------------------------------------


class RetryableError(GleanerError):
    """A transient failure: timeouts, connection errors, HTTP 429/5xx, rate limits.

    `retry_after` (seconds) is a hint from the other side (a Retry-After header); the retry waits at
    least that long, and never less than the queue's own delay for the attempt.
    """

    code = "retryable"
    status_code = 503

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retry_after: float | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.retry_after = retry_after


class PermanentError(GleanerError):
    """A failure that another attempt cannot fix: invalid input, 4xx, content that cannot be parsed."""

    code = "permanent"
    status_code = 422


class Cancelled(GleanerError):
    """Raised at a checkpoint when the item's task was cancelled while the job ran."""

    code = "cancelled"
    status_code = 409


class ShuttingDown(GleanerError):
    """Raised at a checkpoint when the worker must stop before the job can finish.

    The item goes back to its queue without spending an attempt.
    """

    code = "shutting_down"
    status_code = 503


# --- API errors -------------------------------------------------------------------------------------


class NotFound(GleanerError):
    code = "not_found"
    status_code = 404


class InvalidRequest(GleanerError):
    code = "invalid_request"
    status_code = 422


class Conflict(GleanerError):
    code = "conflict"
    status_code = 409


class Unauthorized(GleanerError):
    code = "unauthorized"
    status_code = 401


class Forbidden(GleanerError):
    code = "forbidden"
    status_code = 403


class ServiceUnavailable(GleanerError):
    """A dependency (Redis, the database) cannot be reached; the client should retry later."""

    code = "service_unavailable"
    status_code = 503

    def __init__(
        self, message: str, *, retry_after: int = 5, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


def retryable_http_status(status: int) -> bool:
    """HTTP statuses worth another attempt: rate limits, timeouts, conflicts and server errors."""
    return status in (408, 409, 425, 429) or status >= 500


def classify_http_status(
    status: int, message: str, retry_after: float | None = None
) -> GleanerError:
    """The error an HTTP failure status maps to, with the status in its message."""
    if retryable_http_status(status):
        code = "rate_limited" if status == 429 else f"http_{status}"
        return RetryableError(message, code=code, retry_after=retry_after)
    return PermanentError(message, code=f"http_{status}")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
