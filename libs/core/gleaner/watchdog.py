"""Job deadlines for every worker thread of a process, kept by one watchdog thread.

RQ's TimerDeathPenalty starts a `threading.Timer` (a new OS thread) per job; at hundreds of jobs a second
that thread's start-up and GIL hand-offs cost more than a short job. Here a job arms a deadline (a dict
entry under a lock) and disarms it when done; one daemon thread sleeps until the earliest deadline and
raises the job's timeout exception in the job's thread, the same way RQ does
(PyThreadState_SetAsyncExc). Arming wakes the watchdog only when the new deadline is the earliest.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
import time
from typing import Any

from rq.timeouts import BaseDeathPenalty, JobTimeoutException


class Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._deadlines: dict[int, tuple[float, int, type[BaseException]]] = {}
        self._tokens = itertools.count()
        self._wake_at = float("inf")
        self._thread: threading.Thread | None = None

    def arm(
        self, seconds: float, thread_id: int, exception: type[BaseException]
    ) -> int:
        deadline = time.monotonic() + seconds
        with self._lock:
            token = next(self._tokens)
            self._deadlines[token] = (deadline, thread_id, exception)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="job-watchdog", daemon=True
                )
                self._thread.start()
            if deadline < self._wake_at:
                self._lock.notify()
        return token

    def disarm(self, token: int) -> None:
        # no wake-up: the watchdog finds nothing due at its next wake and sleeps on
        with self._lock:
            self._deadlines.pop(token, None)

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for token, (deadline, thread_id, exception) in list(
                    self._deadlines.items()
                ):
                    if deadline <= now:
                        del self._deadlines[token]
                        _raise_in(thread_id, exception)
                self._wake_at = min(
                    (deadline for deadline, _, _ in self._deadlines.values()),
                    default=float("inf"),
                )
                wait = None if self._wake_at == float("inf") else self._wake_at - now
                self._lock.wait(wait)


def _raise_in(thread_id: int, exception: type[BaseException]) -> None:
    changed = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception)
    )
    if changed > 1:  # never expected; undo rather than hit several threads
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)


WATCHDOG = Watchdog()

_timeout_classes: dict[tuple[type[BaseException], float], type[BaseException]] = {}


def _timeout_class(base: type[BaseException], seconds: float) -> type[BaseException]:
    """A subclass carrying the message (an async exception is raised from its class, without args)."""
    key = (base, seconds)
    found = _timeout_classes.get(key)
    if found is None:
        message = f"Task exceeded maximum timeout value ({seconds:g} seconds)"

        def init(self: BaseException, *args: Any) -> None:
            base.__init__(self, *(args or (message,)))

        found = type(base.__name__, (base,), {"__init__": init})
        _timeout_classes[key] = found
    return found


class WatchdogDeathPenalty(BaseDeathPenalty):
    """RQ's death penalty interface over the process's one watchdog thread."""

    def __init__(
        self,
        timeout: float,
        exception: type[BaseException] = JobTimeoutException,
        **kwargs: Any,
    ) -> None:
        super().__init__(timeout, exception, **kwargs)  # type: ignore[no-untyped-call]
        self._token: int | None = None

    def setup_death_penalty(self) -> None:
        if self._timeout is None or self._timeout <= 0:
            return
        self._token = WATCHDOG.arm(
            self._timeout,
            threading.get_ident(),
            _timeout_class(self._exception, self._timeout),
        )

    def cancel_death_penalty(self) -> None:
        if self._token is not None:
            WATCHDOG.disarm(self._token)
            self._token = None
