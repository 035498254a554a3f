"""`python -m gleaner_api [serve|migrate|keys create|retention]`: the API server and its admin commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gleaner.apikeys import create_api_key
from gleaner.db import migrate, session_scope
from gleaner.logs import configure_logging
from gleaner.retention import purge_finished_tasks
from gleaner.runtime import Runtime
from gleaner.settings import load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gleaner_api", description="Gleaner's API and admin commands."
    )
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the HTTP API (the default)")
    serve.add_argument(
        "--host", default="0.0.0.0"
    )  # a container listens on all interfaces
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--migrate", action="store_true", help="apply migrations first")
    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser(
        "reconcile",
        help="re-enqueue work Redis lost or a dead worker left (its own Deployment)",
    )
    commands.add_parser(
        "retention", help="delete finished tasks past their retention (a CronJob)"
    )
    standalone = commands.add_parser(
        "standalone", help="the whole stack on this machine (make run)"
    )
    standalone.add_argument("--port", type=int, default=8000)
    standalone.add_argument(
        "--redis-port", type=int, default=6380, help="for the Redis it starts"
    )
    keys = commands.add_parser("keys", help="API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", default="cli")
    create.add_argument(
        "--owner", default=None, help="default: GLEANER_BOOTSTRAP_OWNER"
    )
    args = parser.parse_args(argv)

    settings = load_settings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    command = args.command or "serve"
    if command == "migrate":
        migrate(settings.database_url)
        return 0
    if command == "reconcile":
        from gleaner.reconciler import run as run_reconciler

        return run_reconciler(settings)
    if command == "retention":
        runtime = Runtime.start(settings)
        with session_scope(runtime.sessions) as session:
            deleted = purge_finished_tasks(session, settings)
        runtime.close()
        sys.stdout.write(
            f"deleted {deleted['completed']} completed and {deleted['failed']} failed tasks\n"
        )
        return 0
    if command == "standalone":
        from gleaner_api.standalone import run

        return run(port=args.port, redis_port=args.redis_port)
    if command == "keys":
        runtime = Runtime.start(settings)
        with session_scope(runtime.sessions) as session:
            _, key = create_api_key(
                session, args.name, args.owner or settings.BOOTSTRAP_OWNER
            )
        runtime.close()
        sys.stdout.write(key + "\n")
        return 0
    if getattr(args, "migrate", False):
        migrate(settings.database_url)
    import uvicorn

    from gleaner_api.app import create_app

    uvicorn.run(
        create_app(settings),
        host=getattr(args, "host", "0.0.0.0"),
        port=getattr(args, "port", 8000),
        log_config=None,  # keep our structured logging
        timeout_graceful_shutdown=20,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
