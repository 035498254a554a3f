"""Real parts for every test: a private Redis, a migrated SQL database, real worker processes.

- `redis_url` / `redis`: a redis-server of our own on a free port (never the machine's 6379), flushed
  around each test.
- `db_url`: a migrated SQLite file per test; with `GLEANER_TEST_POSTGRES_URL` set, tests that ask for
  `any_db_url` run on PostgreSQL too. Each test process migrates once, into a template; every test gets a
  copy of it (a database of its own on PostgreSQL).
- `settings` / `runtime`: Settings for those, also exported to the environment so worker subprocesses
  inherit them; retries are immediate.
- `run_worker(stage)`: `python -m gleaner_<stage> --burst` in a subprocess; `start_worker(stage)`: a
  long-running one, stopped at the end of the test.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from redis import Redis

from gleaner.apikeys import create_api_key
from gleaner.db import migrate, session_scope
from gleaner.runtime import Runtime, set_current
from gleaner.settings import Settings
from tests.servers import free_port, start_redis_server, stop_process
from tests.stack import Processes, process_env

ROOT = Path(__file__).resolve().parent.parent

RunWorker = Callable[..., subprocess.CompletedProcess[str]]
"""The `run_worker` fixture: run_worker(stage, env=None, timeout=120) drains a stage in burst mode."""
StartWorker = Callable[..., subprocess.Popen[bytes]]
"""The `start_worker` fixture: start_worker(stage, env=None, args=()) starts a long-running worker."""
POSTGRES_URL = os.environ.get("GLEANER_TEST_POSTGRES_URL", "")

# Settings every test process gets unless a test overrides them.
BASE_ENV = {
    "GLEANER_ENV": "test",
    "GLEANER_LOG_FORMAT": "console",
    "GLEANER_LOG_LEVEL": "INFO",
    "GLEANER_PARSING_RETRY_DELAYS": "0",
    "GLEANER_AI_RETRY_DELAYS": "0",
    "GLEANER_NOTION_RETRY_DELAYS": "0",
    "GLEANER_WORKER_METRICS_PORT": "0",
    "GLEANER_AUTH_ENABLED": "true",
}


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, url = start_redis_server(tmp_path_factory.mktemp("redis"))
    yield url
    stop_process(process)


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end; skips when none is given."""
    if not POSTGRES_URL:
        pytest.skip(
            "PostgreSQL tests need GLEANER_TEST_POSTGRES_URL (make test sets it when a server answers)"
        )
    from sqlalchemy import create_engine, text

    name = f"gleaner_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        Settings(DATABASE_URL=POSTGRES_URL).database_url, isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = Settings(DATABASE_URL=POSTGRES_URL).database_url.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_template(postgres_server_url: str) -> Iterator[str]:
    """A database migrated once per test process; each test gets a copy of it (CREATE DATABASE …
    TEMPLATE takes ~0.2 s where dropping the schema and migrating again took ~8 s of commits)."""
    from sqlalchemy import create_engine, text

    name = f"gleaner_template_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    migrate(f"{postgres_server_url.rsplit('/', 1)[0]}/{name}")
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _fresh_postgres(server_url: str, template: str) -> Iterator[str]:
    """A database of this test's own, copied from the migrated template and dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"gleaner_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield f"{server_url.rsplit('/', 1)[0]}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per test process; each test gets a copy (migrating costs ~1 s of
    commits a test, a copy a millisecond)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "gleaner.db"
    migrate(f"sqlite:///{path}")
    return path


def _sqlite_copy(template: Path, path: Path) -> str:
    """A copy of the migrated template at `path`, made with SQLite's own backup (safe whatever its journal)."""
    with (
        closing(sqlite3.connect(template)) as source,
        closing(sqlite3.connect(path)) as target,
    ):
        source.backup(target)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    return _sqlite_copy(sqlite_template, tmp_path / "gleaner.db")


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def any_db_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """The test runs once on SQLite and once on PostgreSQL (skipped without a server)."""
    if request.param == "sqlite":
        yield _sqlite_copy(sqlite_template, tmp_path / "gleaner.db")
        return
    yield from _fresh_postgres(
        request.getfixturevalue("postgres_server_url"),
        request.getfixturevalue("postgres_template"),
    )


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
def test_env(
    db_url: str,
    redis_url: str,
    redis: Redis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The environment of this test's processes; tests may add to it before starting workers."""
    env = {
        **BASE_ENV,
        "GLEANER_DATABASE_URL": db_url,
        "GLEANER_REDIS_URL": redis_url,
        "GLEANER_DATA_DIR": str(tmp_path / "data"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return env


@pytest.fixture
def settings(test_env: dict[str, str]) -> Settings:
    return Settings()


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.start(settings)
    set_current(rt)
    yield rt
    set_current(None)
    rt.close()


def _worker_command(stage: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", f"gleaner_{stage}", *extra]


def _process_env(
    test_env: dict[str, str], overrides: dict[str, str] | None
) -> dict[str, str]:
    """A test process's environment (tests import this name; tests.stack.process_env does the work)."""
    return process_env({**test_env, **(overrides or {})})


@pytest.fixture
def run_worker(
    test_env: dict[str, str],
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run a stage's worker in burst mode until its queues are empty; returns the finished process."""

    def run(
        stage: str, *, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            _worker_command(stage, "--burst"),
            env=_process_env(test_env, env),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, (
            f"{stage} worker exited {result.returncode}:\n{result.stderr[-4000:]}"
        )
        return result

    return run


@pytest.fixture
def start_worker(
    test_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start a long-running worker process; every one still running is stopped after the test."""
    processes = Processes(test_env, tmp_path)

    def start(
        stage: str, *, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> subprocess.Popen[bytes]:
        return processes.worker(stage, env=env, args=args)

    yield start
    processes.stop_all(timeout=10)


@pytest.fixture
def api_key(runtime: Runtime) -> str:
    """A key of owner "alice"."""
    with session_scope(runtime.sessions) as session:
        _, key = create_api_key(session, "test", "alice")
    return key


@pytest.fixture
def other_key(runtime: Runtime) -> str:
    """A key of owner "bob", who must never see alice's objects."""
    with session_scope(runtime.sessions) as session:
        _, key = create_api_key(session, "test", "bob")
    return key


@pytest.fixture
def free_tcp_port() -> int:
    return free_port()


def pytest_report_header(config: Any) -> str:
    return f"gleaner: PostgreSQL tests {'on ' + POSTGRES_URL.split('@')[-1] if POSTGRES_URL else 'skipped (no GLEANER_TEST_POSTGRES_URL)'}"


def pytest_collection_modifyitems(config: Any, items: list[pytest.Item]) -> None:
    """Files holding a slow test run first, the fault suite (the longest file) before them: under
    `-n 2 --dist loadfile --no-loadscope-reorder` the long ones start early and the short ones fill the
    gaps, instead of one long file running alone at the end. A stable sort keeps each file's tests
    together and in their order."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(
        key=lambda item: (
            item.path not in slow_files,
            item.path.parent.name != "faults",
        )
    )
