"""Retry strategies per stage, from Settings: how many attempts, how long between them, which errors.

A stage's strategy is data (as rq's `Retry(max=..., interval=[...])`), read by the job runner when an
attempt fails and by the reconciler when a worker died mid-job. The defaults are the first version's
behaviour: 3 attempts, a fixed list of delays (0 s, 30 s, 300 s), every RetryableError retried.

- `fixed`: the delay before attempt n+1 is `delays[n]` (the last entry repeats).
- `exponential`: `base × 2^(n-1)`, at most `max_seconds`, then shortened by a random fraction of up to
  `jitter` so that items that failed together (a site down for a minute) do not all come back together.
- `retry_on`: the error codes that are retried (empty: every retryable code); a retryable error whose
  code is not listed fails the item at once. A permanent error is never retried.
- A `Retry-After` the failing service sent is honoured: the delay is never shorter than it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from gleaner.settings import Settings, Stage

Backoff = Literal["fixed", "exponential"]


@dataclass(frozen=True)
class RetryStrategy:
    max_attempts: int
    backoff: Backoff
    delays: tuple[int, ...]  # fixed: seconds before attempt 1, 2, 3, …
    base_seconds: float  # exponential: the delay after the first attempt
    max_seconds: float  # exponential: the cap
    jitter: float  # exponential: up to this fraction is taken off at random (0..1)
    retry_on: tuple[str, ...]  # error codes retried; empty: all retryable codes

    @classmethod
    def of(cls, settings: Settings, stage: Stage) -> RetryStrategy:
        prefix = stage.upper()
        return cls(
            max_attempts=settings.max_attempts(stage),
            backoff=getattr(settings, f"{prefix}_RETRY_BACKOFF"),
            delays=tuple(settings.retry_delays(stage)) or (0,),
            base_seconds=float(getattr(settings, f"{prefix}_RETRY_BASE_SECONDS")),
            max_seconds=float(getattr(settings, f"{prefix}_RETRY_MAX_SECONDS")),
            jitter=float(getattr(settings, f"{prefix}_RETRY_JITTER")),
            retry_on=tuple(getattr(settings, f"{prefix}_RETRY_ON")),
        )

    def retries(self, code: str) -> bool:
        """Whether a retryable error with this code may be tried again (attempts permitting)."""
        return not self.retry_on or code in self.retry_on

    def delay(self, attempts_done: int, retry_after: float | None = None) -> float:
        """Seconds to wait before the next attempt, `attempts_done` attempts having been made."""
        if self.backoff == "exponential":
            exponent = max(attempts_done - 1, 0)
            raw = min(self.max_seconds, self.base_seconds * 2.0 ** min(exponent, 60))
            seconds = raw * (1.0 - self.jitter * random.random())
        else:
            seconds = float(self.delays[min(attempts_done, len(self.delays) - 1)])
        return max(seconds, retry_after or 0.0)

    def describe(self) -> dict[str, Any]:
        """The strategy as the monitoring API shows it."""
        shown: dict[str, Any] = {
            "max_attempts": self.max_attempts,
            "backoff": self.backoff,
            "retry_on": list(self.retry_on) or "all retryable errors",
        }
        if self.backoff == "fixed":
            shown["delays_seconds"] = list(self.delays)
        else:
            shown |= {
                "base_seconds": self.base_seconds,
                "max_seconds": self.max_seconds,
                "jitter": self.jitter,
            }
        return shown
