"""The FastAPI application: one Runtime per process, built in the lifespan, and every router."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Response
from prometheus_client import multiprocess
from redis.exceptions import RedisError

from gleaner import tracing
from gleaner.apikeys import ensure_api_key
from gleaner.db import session_scope
from gleaner.deliveries import WebhookCollector
from gleaner.logs import configure_logging
from gleaner.metrics import exposition, make_registry, multiprocess_dir
from gleaner.queues import register_lanes
from gleaner.runtime import Runtime, set_current
from gleaner.schedules import ScheduleCollector
from gleaner.settings import Settings, load_settings
from gleaner_api import openapi, readcache
from gleaner_api.auth import AuthenticationMiddleware
from gleaner_api.handlers import install_handlers
from gleaner_api.requestmetrics import RequestMetricsMiddleware
from gleaner_api.routers import (
    ai_models,
    health,
    links,
    monitoring,
    pipelines,
    schedules,
    stages,
    tasks,
    web,
    webhooks,
)
from gleaner_api.tracing import instrument_app

log = structlog.get_logger("gleaner.api")


def create_app(settings: Settings | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config = settings or load_settings()
        runtime = Runtime.start(config, pool_timeout=config.API_POOL_TIMEOUT_SECONDS)
        readcache.forget_all()
        app.state.runtime = runtime
        app.state.metrics = make_registry(runtime.redis, runtime.settings)
        app.state.metrics.register(ScheduleCollector(runtime.sessions))
        app.state.metrics.register(WebhookCollector(runtime.sessions))
        set_current(runtime)  # eager mode runs jobs in this process
        try:
            register_lanes(runtime.redis)  # `rq info` shows every lane from the start
        except RedisError as exc:
            log.warning("lanes_not_registered", error=str(exc))
        key = runtime.settings.BOOTSTRAP_API_KEY
        if key is not None:
            with session_scope(runtime.sessions) as session:
                ensure_api_key(
                    session,
                    "bootstrap",
                    runtime.settings.BOOTSTRAP_OWNER,
                    key.get_secret_value(),
                )
        # What exists now (modules, the app, its schemas) lives as long as the process: out of the
        # collector's sight, so a full collection during a large request does not walk it all again
        # (a 10,000-link submit triggers several: 0.3 s of its CPU before). Given back at shutdown,
        # for processes that make many apps (tests).
        gc.freeze()
        yield
        gc.unfreeze()
        set_current(None)
        runtime.close()
        if multiprocess_dir() is not None:
            # this process's live gauges (requests in progress) leave the sum; its counters stay
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    app = FastAPI(
        title="Gleaner",
        summary="Links in; clean article text, an AI digest and a Notion page out.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_handlers(app)
    openapi.install(
        app
    )  # /openapi.json: the real error shape and every status (gleaner_api.openapi)
    instrument_app(app)  # tracing: a server span per request, when tracing is on
    app.add_middleware(AuthenticationMiddleware)  # before any route reads the body
    app.add_middleware(RequestMetricsMiddleware)  # outermost: counts the 401s too
    app.include_router(health.router)  # /healthz, /readyz
    app.include_router(links.router)  # /api/links
    app.include_router(pipelines.router)  # /api/pipelines
    app.include_router(tasks.router)  # /api/tasks
    app.include_router(schedules.router)  # /api/schedules
    app.include_router(webhooks.router)  # /api/webhooks
    app.include_router(stages.parsing)  # /api/parsing/async
    app.include_router(stages.ai)  # /api/ai/async
    app.include_router(stages.notion)  # /api/notion/async
    app.include_router(ai_models.router)  # /api/ai/models
    app.include_router(monitoring.router)  # /api/monitoring
    app.include_router(web.router)  # /, /web/{app.js,style.css}: the web page

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Process metrics and the queue depths read from Redis at scrape time (the autoscaling signal)."""
        body, content_type = exposition(app.state.metrics)
        return Response(body, media_type=content_type)

    return app


def create_served_app() -> FastAPI:
    """The app of each process `serve --processes N` starts (uvicorn imports it by name in a fresh
    interpreter, so logging and tracing are set up here, not inherited)."""
    settings = load_settings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    tracing.setup("api")
    return create_app(settings)
