"""Requests the API answered, by route and status, and how long they took: the outermost middleware.

Labels stay bounded: the route is its path template (`/api/tasks/{task_id}`), never the path a client
sent; a path no route matches counts as `unmatched`. With several API processes
(`serve --processes N`), prometheus-client's multiprocess mode keeps these in files every process
writes and /metrics sums them (gleaner.metrics.make_registry).
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "gleaner_api_requests_total",
    "HTTP requests the API answered, by method, route (its path template) and status code.",
    ["method", "route", "status"],
)
DURATION = Histogram(
    "gleaner_api_request_duration_seconds",
    "Seconds from a request's arrival to the end of its answer (an event stream: its whole life).",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
IN_PROGRESS = Gauge(
    "gleaner_api_requests_in_progress",
    "Requests being answered now (open event streams included), summed over the live API processes.",
    multiprocess_mode="livesum",
)

UNMATCHED = "unmatched"


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before any answer: the server answers 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            IN_PROGRESS.dec()
            route = getattr(scope.get("route"), "path", UNMATCHED)
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            DURATION.labels(route).observe(time.perf_counter() - started)
