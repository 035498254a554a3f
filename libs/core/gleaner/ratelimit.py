"""A token bucket in Redis, shared by every replica of a worker type.

One bucket per outside budget (Notion's requests per integration, an LLM provider's requests per minute):
all replicas take from the same Redis key, so scaling a worker Deployment up never raises the request
rate, it only spreads the same budget over more processes.

The whole decision is one Lua script, so it is atomic, and it reads the clock with Redis `TIME`, so
replicas on different nodes (with drifting clocks) agree on when tokens refill. A caller that is refused
sleeps for the time the script says the tokens need, then asks again; nobody holds a reservation, so a
replica that dies while waiting costs the others nothing.

`pause(seconds)` is the answer to a 429: the bucket is emptied and refills only from `now + seconds`,
so every replica stops sending until the other side's Retry-After has passed, then resumes at the rate
(not in a burst).
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

from redis import Redis

from gleaner import tracing
from gleaner.errors import RetryableError

DEFAULT_MAX_SLEEP = 1.0
"""Seconds a waiter sleeps at most between two asks: a `pause()` made meanwhile is seen this soon."""

# KEYS[1] = the bucket hash {tokens, ts}. ts is when `tokens` was last brought up to date, and may lie in
# the future while the bucket is paused: no token refills before it.
# ARGV = rate per second, burst, tokens wanted, pause seconds (0 = take tokens, > 0 = pause instead).
# Returns "0" when the tokens were taken, else the seconds to wait (a string: Lua numbers would be
# truncated to integers on the way back).
_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local pause = tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
  ts = now
end
local wait = 0
if pause > 0 then
  tokens = 0
  ts = math.max(ts, now + pause)
elseif now < ts then
  wait = (ts - now) + math.max(0, wanted - tokens) / rate
elseif tokens >= wanted then
  tokens = tokens - wanted
else
  wait = (wanted - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
-- A full bucket is the same as no key: let idle buckets expire.
local idle = (ts - now) + (burst - tokens) / rate
redis.call('PEXPIRE', KEYS[1], math.ceil(idle * 1000) + 1000)
return tostring(wait)
"""


class TokenBucket:
    """`rate_per_second` tokens per second on average, at most `burst` at once, across all processes."""

    def __init__(
        self, redis: Redis, key: str, rate_per_second: float, burst: int
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.redis = redis
        self.key = key
        self.rate = float(rate_per_second)
        self.burst = int(burst)
        self._script = redis.register_script(_SCRIPT)

    def _call(self, tokens: float, pause: float) -> float:
        result: Any = self._script(
            keys=[self.key],
            args=[repr(self.rate), self.burst, repr(float(tokens)), repr(pause)],
        )
        return float(result.decode() if isinstance(result, bytes) else result)

    def try_acquire(self, tokens: float = 1) -> float:
        """Take `tokens` if they are there; returns 0 when taken, else the seconds until they could be."""
        if tokens > self.burst:
            raise ValueError(
                f"cannot take {tokens} tokens from a bucket holding at most {self.burst}"
            )
        return self._call(tokens, 0.0)

    def acquire(self, tokens: float = 1, timeout: float | None = None) -> float:
        """Block until `tokens` are granted; returns the seconds waited.

        Raises RetryableError(code="rate_limited") when they cannot be had within `timeout` seconds; its
        `retry_after` is the bucket's own estimate of when they could.
        """
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        while True:
            wait = self.try_acquire(tokens)
            now = time.monotonic()
            if wait <= 0:
                tracing.record_wait(
                    "ratelimit wait",
                    now - started,
                    {"gleaner.ratelimit.bucket": self.key},
                )
                return now - started
            if deadline is not None and now + wait > deadline:
                raise RetryableError(
                    f"rate limit {self.key!r}: no token within {timeout:g}s",
                    code="rate_limited",
                    retry_after=wait,
                )
            # A little jitter so waiters that were told the same time do not all ask in the same instant.
            sleep = min(wait, DEFAULT_MAX_SLEEP) + random.uniform(0, 0.05 / self.rate)
            if deadline is not None:
                sleep = min(sleep, max(0.0, deadline - now))
            time.sleep(sleep)

    def pause(self, seconds: float) -> None:
        """Stop every process taking from this bucket for `seconds` (e.g. a 429's Retry-After).

        The bucket is emptied and refills from the end of the pause; a longer pause already in force is
        kept.
        """
        if not math.isfinite(seconds) or seconds <= 0:
            return
        self._call(0, float(seconds))
