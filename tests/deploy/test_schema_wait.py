"""The pods' init container, `python -m gleaner.schema_wait`, as a real process: it blocks on an empty
database (and on one that does not answer) and returns once `python -m gleaner_api migrate` ran."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gleaner.db import migrate
from tests.conftest import BASE_ENV, ROOT
from tests.servers import free_port, stop_process


def start_waiter(url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, **BASE_ENV, "GLEANER_DATABASE_URL": url}
    return subprocess.Popen(
        [sys.executable, "-m", "gleaner.schema_wait", "--interval", "0.2", *args],
        env=env,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


def read_until(process: subprocess.Popen[str], text: str, seconds: float = 30) -> str:
    """stderr lines until one contains `text`."""
    assert process.stderr is not None
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"no {text!r} in:\n{''.join(seen)}")


def blocks_then_returns(url: str) -> None:
    waiter = start_waiter(url)
    try:
        read_until(waiter, "waiting for the database schema: migration")
        read_until(
            waiter, "waiting for the database schema: migration"
        )  # still, a poll later
        assert waiter.poll() is None
        migrate(url)  # what `python -m gleaner_api migrate` runs
        assert waiter.wait(60) == 0
        assert waiter.stderr is not None
        assert "database schema is ready" in waiter.stderr.read()
    finally:
        stop_process(waiter)  # type: ignore[arg-type]


def test_waits_on_empty_sqlite_until_migrated(tmp_path: Path) -> None:
    blocks_then_returns(f"sqlite:///{tmp_path / 'gleaner.db'}")


@pytest.mark.postgres
def test_waits_on_empty_postgresql_until_migrated(postgres_server_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_server_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    blocks_then_returns(postgres_server_url)


def test_waits_for_a_database_that_does_not_answer_then_gives_up_at_its_timeout() -> (
    None
):
    url = f"postgresql+psycopg://gleaner:x@127.0.0.1:{free_port()}/gleaner"
    waiter = start_waiter(url, "--timeout", "1")
    try:
        read_until(waiter, "waiting for the database: it does not answer yet")
        assert waiter.wait(30) == 1
    finally:
        stop_process(waiter)  # type: ignore[arg-type]
