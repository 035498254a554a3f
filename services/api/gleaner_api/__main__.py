"""`python -m gleaner_api [serve|migrate|reconcile|schedule|retention|standalone|keys create|models create]`.

The API server and the admin commands that need only the core: the API image runs them all
(migrations as a Helm hook, retention as a CronJob, the reconciler as its own Deployment).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gleaner import tracing
from gleaner.aimodels import create_operator_model
from gleaner.apikeys import create_api_key
from gleaner.db import migrate, session_scope
from gleaner.logs import configure_logging
from gleaner.retention import purge_finished_tasks
from gleaner.runtime import Runtime
from gleaner.settings import Settings, load_settings


def serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from gleaner_api.app import create_app

    processes = getattr(args, "processes", None) or settings.API_PROCESSES
    if getattr(args, "migrate", False):
        migrate(settings.database_url)
    options: dict[str, Any] = {
        "host": getattr(
            args, "host", "0.0.0.0"
        ),  # a container listens on all interfaces
        "port": getattr(args, "port", 8000),
        "log_config": None,  # keep our structured logging
        "timeout_graceful_shutdown": 20,
    }
    if processes == 1:
        tracing.setup("api")  # before the app makes its engine and Redis client
        uvicorn.run(create_app(settings), **options)
        return 0
    # uvicorn's supervisor: N processes accept on one socket; SIGTERM reaches each, and each drains
    # its requests (the graceful timeout) before the supervisor exits; a process that dies is replaced.
    with shared_metrics_dir():
        uvicorn.run(
            "gleaner_api.app:create_served_app",
            factory=True,
            workers=processes,
            **options,
        )
    return 0


@contextmanager
def shared_metrics_dir() -> Iterator[str]:
    """PROMETHEUS_MULTIPROC_DIR for the API processes (emptied: files an earlier run left would be
    counted), or a private temporary one when it is not set; the processes inherit it at their start."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for leftover in path.glob("*.db"):
            leftover.unlink()
        yield directory
        return
    with tempfile.TemporaryDirectory(prefix="gleaner-api-metrics-") as temporary:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = temporary
        try:
            yield temporary
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def run_migrations(settings: Settings, _args: argparse.Namespace) -> int:
    migrate(settings.database_url)
    return 0


def reconcile(settings: Settings, _args: argparse.Namespace) -> int:
    from gleaner.deliveries import Deliverer
    from gleaner.reconciler import run
    from gleaner_api.scheduler import Scheduler

    # Every reconciler replica also fires schedules and delivers webhooks: SQL claims, not the leader
    # lease, decide which replica does what, so a replica dying mid-way only delays it.
    runtime = Runtime.start(settings)
    loops: list[Scheduler | Deliverer] = [Scheduler(runtime), Deliverer(runtime)]
    threads = [loop.start_thread() for loop in loops]
    try:
        return run(settings)
    finally:
        for loop in loops:
            loop.stop.set()
        for thread in threads:
            thread.join(timeout=settings.WEBHOOK_TIMEOUT_SECONDS + 5)
        runtime.close()


def schedule(settings: Settings, _args: argparse.Namespace) -> int:
    from gleaner_api.scheduler import run

    return run(settings)


def retention(settings: Settings, _args: argparse.Namespace) -> int:
    runtime = Runtime.start(settings)
    with session_scope(runtime.sessions) as session:
        deleted = purge_finished_tasks(session, settings)
    runtime.close()
    sys.stdout.write(
        f"deleted {deleted['completed']} completed and {deleted['failed']} failed tasks\n"
    )
    return 0


def standalone(_settings: Settings, args: argparse.Namespace) -> int:
    from gleaner_api.standalone import run

    return run(
        port=args.port,
        redis_port=args.redis_port,
        metrics_port=args.metrics_port,
        samples_port=args.samples_port,
        verbose=args.verbose,
    )


def create_key(settings: Settings, args: argparse.Namespace) -> int:
    runtime = Runtime.start(settings)
    with session_scope(runtime.sessions) as session:
        _, key = create_api_key(
            session,
            args.name,
            args.owner or settings.BOOTSTRAP_OWNER,
            operator=args.operator,
        )
    runtime.close()
    sys.stdout.write(key + "\n")
    return 0


def create_model(settings: Settings, args: argparse.Namespace) -> int:
    """An operator's model: every tenant may use it, and it is sent the server's own provider key."""
    runtime = Runtime.start(settings)
    with session_scope(runtime.sessions) as session:
        model = create_operator_model(
            session,
            name=args.name,
            provider=args.provider,
            model=args.model,
            base_url=args.base_url,
            is_default=args.default,
        )
    runtime.close()
    sys.stdout.write(f"{model.id}\n")
    return 0


Command = Callable[[Settings, argparse.Namespace], int]


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number of at least 1")
    return value


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m gleaner_api", description="Gleaner's API and admin commands."
    )
    root.set_defaults(handler=serve)
    commands = root.add_subparsers()
    http = commands.add_parser("serve", help="run the HTTP API (the default)")
    http.add_argument("--host", default="0.0.0.0")
    http.add_argument("--port", type=int, default=8000)
    http.add_argument("--migrate", action="store_true", help="apply migrations first")
    http.add_argument(
        "--processes",
        type=positive,
        default=None,
        help="API processes on the port (default: GLEANER_API_PROCESSES, 1)",
    )
    http.set_defaults(handler=serve)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(
        handler=run_migrations
    )
    commands.add_parser(
        "reconcile",
        help="re-enqueue work Redis lost or a dead worker left (its own Deployment)",
    ).set_defaults(handler=reconcile)
    commands.add_parser(
        "schedule",
        help="fire due schedules only (the reconciler runs the same loop in a thread)",
    ).set_defaults(handler=schedule)
    commands.add_parser(
        "retention", help="delete finished tasks past their retention (a CronJob)"
    ).set_defaults(handler=retention)
    local = commands.add_parser(
        "standalone", help="the whole stack on this machine (make run)"
    )
    local.add_argument("--port", type=int, default=8000)
    local.add_argument(
        "--redis-port", type=int, default=6380, help="for the Redis it starts"
    )
    local.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="the first of five metrics ports, one per child (default: GLEANER_WORKER_METRICS_PORT; 0: off)",
    )
    local.add_argument(
        "--samples-port", type=int, default=8001, help="for the sample articles"
    )
    local.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="the services' INFO logs (-vv: DEBUG); quiet (warnings) by default",
    )
    local.set_defaults(handler=standalone)
    keys = commands.add_parser("keys", help="API keys").add_subparsers(required=True)
    create = keys.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", default="cli")
    create.add_argument(
        "--owner", default=None, help="default: GLEANER_BOOTSTRAP_OWNER"
    )
    create.add_argument(
        "--operator",
        action="store_true",
        help="may read every tenant's queue and worker figures",
    )
    create.set_defaults(handler=create_key)
    models = commands.add_parser("models", help="operator AI models").add_subparsers(
        required=True
    )
    model = models.add_parser(
        "create", help="an AI model every tenant may use; prints its id"
    )
    model.add_argument("--name", required=True)
    model.add_argument("--provider", choices=("offline", "openai"), required=True)
    model.add_argument("--model", default="", help="the provider's model name")
    model.add_argument(
        "--base-url", default=None, help="default: GLEANER_OPENAI_BASE_URL"
    )
    model.add_argument(
        "--default", action="store_true", help="serve requests that name no model"
    )
    model.set_defaults(handler=create_model)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = load_settings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    handler: Command = args.handler
    return handler(settings, args)


if __name__ == "__main__":
    raise SystemExit(main())
