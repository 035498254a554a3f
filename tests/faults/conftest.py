"""Fault tests: real processes on a private Redis and a private PostgreSQL that each test owns."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gleaner.db import migrate
from gleaner.runtime import Runtime, set_current
from gleaner.settings import Settings
from tests.faults.stack import PostgresServer, Processes, RedisServer
from tests.notion.notion_server import NotionServer
from tests.parsing.server import PageServer

API_KEY = "glr_faults_" + "0" * 32
NOTION_TOKEN = "secret_gleaner_faults"
NOTION_RATE = 60.0  # well above Notion's 3/s so 1,000 pages take about half a minute; the client's bucket matches it


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    # Not under pytest's tmp dir: that is private to root, and PostgreSQL runs as its own user.
    workdir = Path(tempfile.mkdtemp(prefix="gleaner-faults-pg-"))
    os.chmod(workdir, 0o755)
    server = PostgresServer(workdir / "pg")
    if not server.available:
        pytest.skip(
            "no PostgreSQL server installed (initdb/pg_ctl), or no non-root user to run it as"
        )
    server.init().start()
    migrate(Settings(DATABASE_URL=server.url).database_url)
    yield server
    try:
        server.stop()
    except subprocess.CalledProcessError:
        pass  # already stopped by the test
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def fault_redis(tmp_path: Path) -> Iterator[RedisServer]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    yield server
    server.stop()


@pytest.fixture
def page_server() -> Iterator[PageServer]:
    server = PageServer().start()
    yield server
    server.stop()


@pytest.fixture
def notion() -> Iterator[NotionServer]:
    server = NotionServer(
        token=NOTION_TOKEN, rate=NOTION_RATE, burst=NOTION_RATE
    ).start()
    yield server
    server.stop()


@pytest.fixture
def stack_env(
    postgres: PostgresServer,
    fault_redis: RedisServer,
    page_server: PageServer,
    notion: NotionServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    env = {
        "GLEANER_ENV": "test",
        "GLEANER_LOG_FORMAT": "console",
        "GLEANER_LOG_LEVEL": "WARNING",
        "GLEANER_DATABASE_URL": postgres.url,
        "GLEANER_REDIS_URL": fault_redis.url,
        "GLEANER_DATA_DIR": str(tmp_path / "data"),
        "GLEANER_PARSING_RETRY_DELAYS": "0",
        "GLEANER_AI_RETRY_DELAYS": "0",
        "GLEANER_NOTION_RETRY_DELAYS": "0",
        "GLEANER_WORKER_METRICS_PORT": "0",
        "GLEANER_WORKER_HEARTBEAT_SECONDS": "1",
        "GLEANER_RECONCILE_INTERVAL_SECONDS": "1",
        "GLEANER_WORKER_CONCURRENCY": "2",
        "GLEANER_POD_DELETION_COST": "off",
        "GLEANER_AUTH_ENABLED": "true",
        "GLEANER_BOOTSTRAP_API_KEY": API_KEY,
        "GLEANER_BOOTSTRAP_OWNER": "test",  # the owner tests.factories.submit_task uses
        "GLEANER_FETCH_ALLOW_NETWORKS": "127.0.0.0/8",
        "GLEANER_FETCH_ALLOWED_PORTS": str(page_server.port),
        "GLEANER_NOTION_TOKEN": NOTION_TOKEN,
        "GLEANER_NOTION_BASE_URL": notion.url,
        "GLEANER_NOTION_REQUESTS_PER_SECOND": str(NOTION_RATE),
        "GLEANER_NOTION_BURST": str(int(NOTION_RATE)),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return env


@pytest.fixture
def stack_runtime(stack_env: dict[str, str]) -> Iterator[Runtime]:
    runtime = Runtime.start(Settings())
    set_current(runtime)
    yield runtime
    set_current(None)
    runtime.close()


@pytest.fixture
def procs(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = Processes(stack_env, logs)
    yield processes
    processes.stop_all()
