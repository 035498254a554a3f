"""Short-lived, process-local answers for what every status read asks and few writes change.

The ETA of every task needs the workers per stage (one Redis read per registered worker) and each
stage's recent attempt times (an SQL query); neither belongs to a task or a tenant, and a few seconds
old is as good as new for an estimate. Each API process keeps its own copy: nothing here is shared
between processes, and nothing in it is a tenant's data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

V = TypeVar("V")

_EVERY_CACHE: list[TtlCache[Any]] = []


def forget_all() -> None:
    """Empty every cache: what they hold was read from one database, and a new app may use another
    (tests start many apps in one process, each on a fresh database whose first task is task 1)."""
    for cache in _EVERY_CACHE:
        cache.clear()


class TtlCache(Generic[V]):
    """key -> (value, when computed); a value older than `seconds` is computed again on the next read."""

    def __init__(self, seconds: float, max_entries: int = 256) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._values: dict[Hashable, tuple[V, float]] = {}
        self._lock = threading.Lock()
        _EVERY_CACHE.append(self)

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        now = time.monotonic()
        found = self._values.get(key)
        if found is not None and now - found[1] < self.seconds:
            return found[0]
        value = (
            compute()
        )  # outside the lock: two threads may both compute, neither waits
        with self._lock:
            if len(self._values) >= self.max_entries:
                self._values.clear()
            self._values[key] = (value, now)
        return value

    def peek(self, key: Hashable, seconds: float | None = None) -> V | None:
        """The value while it is fresh (younger than `seconds`, default the cache's), else None."""
        found = self._values.get(key)
        limit = self.seconds if seconds is None else seconds
        if found is not None and time.monotonic() - found[1] < limit:
            return found[0]
        return None

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            if len(self._values) >= self.max_entries:
                self._values.clear()
            self._values[key] = (value, time.monotonic())

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
