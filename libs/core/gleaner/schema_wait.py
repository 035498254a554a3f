"""`python -m gleaner.schema_wait`: block until the database schema is at this code's migration head.

Every pod's init container runs it (the chart), so API, worker and reconciler pods started before or
while the migration Job runs wait with a log line saying why instead of crash-looping; it is in the core
package so every image can run it. A database already past this code's head (a newer release migrated
it during a rolling upgrade) counts as ready: migrations are additive.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.exc import SQLAlchemyError

from gleaner.db import MIGRATIONS_DIR, make_engine
from gleaner.logs import configure_logging
from gleaner.settings import load_settings

log = logging.getLogger("gleaner.schema_wait")


def _script() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config)


def missing_revisions(url: str) -> set[str]:
    """This code's heads the database has not reached (empty: ready). Raises when it is unreachable."""
    script = _script()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()
    if not current:
        return set(script.get_heads())
    try:
        reached = {
            rev.revision for rev in script.iterate_revisions(current, "base") if rev
        }
    except CommandError:
        return (
            set()
        )  # a revision this code does not know: a newer release migrated further
    return set(script.get_heads()) - reached


def wait_for_schema(url: str, timeout: float = 0.0, interval: float = 2.0) -> bool:
    """Poll until the schema is ready (True) or `timeout` seconds passed (False; 0 waits forever)."""
    deadline = time.monotonic() + timeout if timeout > 0 else None
    while True:
        try:
            missing = missing_revisions(url)
        except (
            SQLAlchemyError
        ) as exc:  # the database may still be starting: report and retry
            log.warning(
                "waiting for the database: it does not answer yet (%s)",
                str(exc).splitlines()[0],
            )
        else:
            if not missing:
                log.info(
                    "database schema is ready (migration head %s)",
                    ", ".join(sorted(_script().get_heads())),
                )
                return True
            log.warning(
                "waiting for the database schema: migration %s not applied yet; the migrate Job"
                " (`python -m gleaner_api migrate`) applies it",
                ", ".join(sorted(missing)),
            )
        if deadline is not None and time.monotonic() >= deadline:
            log.error("gave up waiting for the database schema after %s s", timeout)
            return False
        time.sleep(interval)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gleaner.schema_wait",
        description="Wait until GLEANER_DATABASE_URL's schema is migrated to this code's head.",
    )
    parser.add_argument(
        "--timeout", type=float, default=0.0, help="seconds; 0 waits forever"
    )
    parser.add_argument(
        "--interval", type=float, default=2.0, help="seconds between checks"
    )
    args = parser.parse_args(argv)
    settings = load_settings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    logging.getLogger("alembic").setLevel(
        logging.WARNING
    )  # its per-connection lines are noise here
    return (
        0 if wait_for_schema(settings.database_url, args.timeout, args.interval) else 1
    )


if __name__ == "__main__":
    raise SystemExit(main())
