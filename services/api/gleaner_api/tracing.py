"""The API's part of tracing (gleaner.tracing): a server span per request, in the OpenTelemetry
FastAPI instrumentation's HTTP semantic conventions."""

from __future__ import annotations

from fastapi import FastAPI

from gleaner import tracing

UNTRACED_PATHS = ",".join(
    [
        "/healthz",
        "/readyz",
        "/metrics",
        # a live stream polls SQL every half second for minutes: thousands of spans saying nothing
        r"/api/tasks/\d+/events",
        "/web/",
    ]
)
"""Probes, scrapes and streams: traced, they would bury the requests that matter."""


def instrument_app(app: FastAPI) -> None:
    if not tracing.is_enabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls=UNTRACED_PATHS)
