"""At most N requests in flight per host across every parsing worker, counted in Redis.

A counting semaphore with leases: each holder is a member of a sorted set scored by its lease's expiry,
so a worker killed while holding a slot (OOM, node loss) frees it when the lease runs out instead of
leaking it. Expired leases are swept and the slot taken in one Lua script, with Redis's own clock, so
workers on hosts with skewed clocks agree.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from redis import Redis

from gleaner.errors import RetryableError

KEY = "gleaner:hostlimit:{host}"

DEFAULT_POLL_SECONDS = 0.05
"""Seconds between attempts to take a slot while the host is busy (jittered up to 2x)."""

_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
"""


class HostLimit:
    """`with limit.slot(host): ...` holds one of the host's `limit` slots for the request."""

    def __init__(
        self, redis: Redis, limit: int, lease_seconds: float, wait_seconds: float
    ) -> None:
        self.redis = redis
        self.limit = limit
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.wait_seconds = wait_seconds
        self._acquire = redis.register_script(_ACQUIRE)

    def try_acquire(self, host: str) -> str | None:
        """A lease token if a slot was free, else None."""
        token = uuid.uuid4().hex
        taken = self._acquire(
            keys=[KEY.format(host=host.lower())],
            args=[self.limit, self.lease_ms, token],
        )
        return token if taken == 1 else None

    def release(self, host: str, token: str) -> None:
        self.redis.zrem(KEY.format(host=host.lower()), token)

    def holders(self, host: str) -> int:
        """Slots taken now, expired leases included until the next sweep."""
        return int(self.redis.zcard(KEY.format(host=host.lower())))

    @contextmanager
    def slot(self, host: str) -> Iterator[str]:
        deadline = time.monotonic() + self.wait_seconds
        while (token := self.try_acquire(host)) is None:
            if time.monotonic() >= deadline:
                raise RetryableError(
                    f"{host} already has {self.limit} requests in flight",
                    code="host_busy",
                    retry_after=5,
                )
            time.sleep(DEFAULT_POLL_SECONDS * (1 + random.random()))  # jitter only
        try:
            yield token
        finally:
            self.release(host, token)
