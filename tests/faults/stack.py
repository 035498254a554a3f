"""The parts a fault test starts, stops and kills for itself: a PostgreSQL cluster, a Redis, processes
(tests.stack.Processes, the one harness for Gleaner processes).

PostgreSQL comes from the installed server (`initdb`, `pg_ctl`); as root it runs as the `postgres`
user, which initdb requires. Each test gets its own Redis and its own cluster, so stopping one never
touches another test (or the machine's own servers).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from gleaner_api.standalone import wait_for_redis
from tests.servers import free_port, start_redis_server, stop_process
from tests.stack import (
    Processes as Processes,  # re-exported: the fault tests import it from here
)

ROOT = Path(__file__).resolve().parents[2]
PG_BIN_DIRS = [
    "/usr/local/bin",
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
]


def find_pg_binary(name: str) -> str | None:
    for directory in PG_BIN_DIRS:
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    return shutil.which(name)


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class PostgresServer:
    """A throw-away PostgreSQL cluster on a free port of 127.0.0.1, trust auth, fsync off."""

    def __init__(self, workdir: Path) -> None:
        self.initdb = find_pg_binary("initdb")
        self.pg_ctl = find_pg_binary("pg_ctl")
        self.workdir = workdir
        self.data = workdir / "pgdata"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None

    @property
    def available(self) -> bool:
        if not (self.initdb and self.pg_ctl):
            return False
        if self.user is None:
            return True
        try:
            pwd.getpwnam(self.user)
        except KeyError:
            return False
        return shutil.which("runuser") is not None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *args: str) -> None:
        command = list(args)
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def init(self) -> PostgresServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.workdir, entry.pw_uid, entry.pw_gid)
        assert self.initdb is not None
        self.run(
            self.initdb,
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        return self

    def start(self) -> None:
        assert self.pg_ctl is not None
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.workdir} -c fsync=off -c max_connections=200"
        self.run(
            self.pg_ctl,
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.workdir / "pg.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        assert self.pg_ctl is not None
        self.run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")


class RedisServer:
    """A private redis-server that can be stopped and started again on the same port (nothing kept)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process, self.url = start_redis_server(workdir)
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def restart(self, down_seconds: float = 1.0) -> None:
        stop_process(self.process)
        time.sleep(down_seconds)
        self.process, url = start_redis_server(self.workdir, self.port)
        assert url == self.url
        wait_for_redis(self.url)

    def stop(self) -> None:
        stop_process(self.process)
