"""The worker process every stage runs: `python -m gleaner_<stage> [--burst]`.

An RQ worker on the stage's queues (high lane first) that runs jobs in its own process instead of
forking one per job (RQ's SimpleWorker; the job timeout is still enforced by SIGALRM). It keeps RQ's
data model — worker registration, heartbeats, started/finished/failed registries — so `rq info` and
rq-dashboard show it. SIGTERM is a warm shutdown: the running job finishes, nothing new starts.
"""

from __future__ import annotations

import argparse
import os
import socket
import uuid
from collections.abc import Callable, Sequence

import structlog
from prometheus_client import start_http_server
from rq import SimpleWorker

from gleaner.db import migrate
from gleaner.logs import configure_logging
from gleaner.queues import worker_queues
from gleaner.runtime import Runtime, set_current
from gleaner.settings import Settings, Stage, load_settings

log = structlog.get_logger("gleaner.worker")


class GleanerWorker(SimpleWorker):
    """RQ's in-process worker. Kept as our own class so the runtime has one place to grow."""


def worker_name(stage: Stage) -> str:
    # Unique per process, readable in `rq info`: the pod name in a cluster, else host and pid.
    base = os.environ.get("GLEANER_POD_NAME") or socket.gethostname()
    return f"{stage}.{base}.{os.getpid()}.{uuid.uuid4().hex[:6]}"


def parse_args(stage: Stage, argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"gleaner-{stage}", description=f"Run Gleaner's {stage} worker.")
    parser.add_argument("--burst", action="store_true", help="drain the queues, then exit")
    parser.add_argument("--migrate", action="store_true", help="apply database migrations before starting")
    parser.add_argument("--name", default=None, help="worker name (default: stage.host.pid.random)")
    return parser.parse_args(argv)


def run(stage: Stage, argv: Sequence[str] | None = None, setup: Callable[[Settings], None] | None = None) -> int:
    """Entry point of each worker service; returns the process exit code."""
    args = parse_args(stage, argv)
    settings = load_settings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    if setup is not None:
        setup(settings)  # the stage checks what it needs and exits naming what is missing
    if args.migrate:
        migrate(settings.database_url)
    runtime = Runtime.start(settings)
    set_current(runtime)
    if settings.WORKER_METRICS_PORT and not args.burst:
        start_http_server(settings.WORKER_METRICS_PORT)
    worker = GleanerWorker(
        worker_queues(runtime.redis, stage),
        connection=runtime.redis,
        name=args.name or worker_name(stage),
    )
    log.info("worker_starting", stage=stage, worker=worker.name, burst=args.burst)
    try:
        worker.work(burst=args.burst, with_scheduler=True, logging_level=settings.LOG_LEVEL)
    finally:
        runtime.close()
    return 0
