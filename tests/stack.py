"""The one harness for tests that run Gleaner as real processes, and the stack the CLI and web tests use.

- `Processes`: start the API, the reconciler and workers as the local stack starts them (the commands
  come from gleaner_api.standalone), each logging to its own file; `tail()` for a failure message;
  `stop_all()` stops every one (SIGTERM to all, then SIGKILL what outlives the timeout).
- `LocalStack`: a private redis-server, a migrated SQLite file, the API on a free port and a worker per
  stage, driven only from outside over HTTP; the `pages` and `stack` fixtures give one per test module.
- `PageServer`: local pages to fetch (a thread).

Page server routes:
  /article/<name>   an article (its title and text name <name>)
  /slow/<name>      the same after DEFAULT_SLOW_SECONDS, so items are seen queued and running
  /fixable/<name>   404 until `fix(name)` is called, then the article: a failure to retry
  /wait/<s>/<name>  the article after <s> seconds: a job that is still running when a test acts
  /wait-once/<s>/<name>  the same the first time only, then at once (a job stopped and run again)
  /unavailable/<name>  503 (a retryable failure) until `fix(name)`, then the article
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest

from gleaner.db import migrate
from gleaner_api.samples import NOT_FOUND, HtmlHandler, LocalServer
from gleaner_api.standalone import service_commands
from tests.servers import free_port, start_redis_server, stop_process

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("parsing", "ai", "notion")

DEFAULT_SLOW_SECONDS = 1.5
"""How long /slow/<name> holds its answer."""

START_TIMEOUT_SECONDS = 120.0
"""Budget for the API to answer and every worker to register (imports are slow on 2 cores)."""

API_START_TIMEOUT_SECONDS = 180.0
"""Budget for a lone API process to answer /healthz (a loaded 2-core machine imports slowly)."""

PARAGRAPHS = (
    "The river runs slowly through the valley of {name} in late summer, and the people of the town walk "
    "along its banks every evening to watch the light fall on the water. Fishermen sit on the old stone "
    "steps and talk about the weather, the harvest and the price of bread.",
    "In the autumn the water rises and the meadows flood, bringing silt that makes the fields rich for "
    "the next year. Farmers near {name} have relied on this cycle for centuries, and the town records "
    "describe floods going back to the thirteenth century.",
    "Engineers proposed a dam in the nineteen-sixties, but the town voted against it, arguing that the "
    "floods were part of the valley's life. Today the river is protected, and visitors come from far "
    "away to see the meadows of {name} in bloom each spring.",
)


def article(name: str) -> bytes:
    body = "".join(f"<p>{p.format(name=name)}</p>" for p in PARAGRAPHS)
    return (
        f"<!doctype html><html lang='en'><head><title>The river at {name}</title></head>"
        f"<body><article><h1>The river at {name}</h1>{body}</article></body></html>"
    ).encode()


class PageServer(LocalServer):
    def __init__(self) -> None:
        super().__init__(0, _PageHandler)
        self.fixed: set[str] = set()
        self.waited: set[str] = set()  # /wait-once names already answered slowly

    def fix(self, name: str) -> None:
        self.fixed.add(name)


class _PageHandler(HtmlHandler):
    server: PageServer

    def do_GET(self) -> None:
        _, kind, name = (self.path.split("/", 2) + ["", ""])[:3]
        if kind == "slow":
            time.sleep(DEFAULT_SLOW_SECONDS)
        if kind in ("wait", "wait-once"):
            seconds, _, name = name.partition("/")
            if kind == "wait" or name not in self.server.waited:
                self.server.waited.add(name)
                time.sleep(float(seconds))
        if kind in ("article", "slow", "wait", "wait-once") or (
            kind in ("fixable", "unavailable") and name in self.server.fixed
        ):
            self.answer(200, article(name))
        elif kind == "unavailable":
            self.answer(503, b"<html><body><h1>Try again later</h1></body></html>")
        else:
            self.answer(404, NOT_FOUND)


def process_env(
    env: Mapping[str, str], base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`env` over `base` (this process's environment by default), tests.* importable (tests.jobs)."""
    merged = {**(os.environ if base is None else base), **env}
    merged["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), merged.get("PYTHONPATH", "")])
    )
    return merged


class Processes:
    """Gleaner processes started for a test; each logs to `<logdir>/<name>-<n>.log`."""

    def __init__(
        self,
        env: Mapping[str, str],
        logdir: Path,
        base: Mapping[str, str] | None = None,
    ) -> None:
        self.env = dict(env)
        self.base = base
        self.logdir = logdir
        self.started: list[subprocess.Popen[bytes]] = []
        self.log_files: list[BinaryIO] = []

    def run(
        self,
        command: list[str],
        env: Mapping[str, str] | None = None,
        name: str = "proc",
    ) -> subprocess.Popen[bytes]:
        log = open(self.logdir / f"{name}-{len(self.started)}.log", "wb")
        self.log_files.append(log)
        process = subprocess.Popen(
            command,
            env=process_env({**self.env, **(env or {})}, self.base),
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
        self.started.append(process)
        return process

    def start(
        self, *args: str, env: dict[str, str] | None = None, name: str = "proc"
    ) -> subprocess.Popen[bytes]:
        """`python <args>` with this interpreter."""
        return self.run([sys.executable, *args], env, name)

    def worker(
        self, stage: str, env: dict[str, str] | None = None, args: Sequence[str] = ()
    ) -> subprocess.Popen[bytes]:
        command = service_commands(0)[f"worker-{stage}"]
        return self.run([*command, *args], env, f"worker-{stage}")

    def reconciler(self, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return self.run(service_commands(0)["reconciler"], env, name="reconciler")

    def api(
        self, port: int, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        return self.run(service_commands(port)["api"], env, name="api")

    def serving_api(
        self,
        env: dict[str, str] | None = None,
        timeout: float = API_START_TIMEOUT_SECONDS,
    ) -> str:
        """The API on a free port, once its /healthz answers; returns its URL."""
        port = free_port()
        process = self.api(port, env)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    return url
            except httpx.TransportError:
                pass
            assert process.poll() is None, f"the API exited\n{self.tail()}"
            assert time.monotonic() < deadline, f"the API did not answer\n{self.tail()}"
            time.sleep(0.1)

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop_all(self, timeout: float = 15.0) -> None:
        """SIGTERM to every one at once (each shuts down warm, side by side), then wait for each."""
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.started:
            stop_process(process, timeout=timeout)
        for log in self.log_files:
            log.close()

    def tail(self, lines: int = 40) -> str:
        out = []
        for path in sorted(self.logdir.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)


class LocalStack:
    """Redis, a migrated SQLite file, the API on a free port and a worker per stage."""

    def __init__(
        self,
        workdir: Path,
        pages: PageServer,
        env: dict[str, str] | None = None,
        reconciler: bool = False,
    ) -> None:
        self.workdir = workdir
        self.pages = pages
        self.extra_env = env or {}  # on top of the defaults below
        self.with_reconciler = reconciler  # it runs delayed retries when they are due
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}"
        self.env: dict[str, str] = {}
        self.redis: subprocess.Popen[bytes] | None = None
        self.procs = Processes({}, workdir, base={})

    @property
    def processes(self) -> list[subprocess.Popen[bytes]]:
        return [*([self.redis] if self.redis else []), *self.procs.started]

    def start(self) -> LocalStack:
        self.redis, redis_url = start_redis_server(self.workdir)
        db_url = f"sqlite:///{self.workdir / 'gleaner.db'}"
        migrate(db_url)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("GLEANER_") and k != "REDIS_URL"
        }
        self.env = {
            **env,
            "PYTHONPATH": str(ROOT),
            "GLEANER_ENV": "test",
            "GLEANER_LOG_FORMAT": "console",
            "GLEANER_DATABASE_URL": db_url,
            "GLEANER_REDIS_URL": redis_url,
            "GLEANER_DATA_DIR": str(self.workdir / "data"),
            "GLEANER_AUTH_ENABLED": "true",
            "GLEANER_SSE_POLL_SECONDS": "0.2",
            "GLEANER_WORKER_METRICS_PORT": "0",
            "GLEANER_WORKER_CONCURRENCY": "1",  # one job at a time, so later items wait in line
            "GLEANER_WORKER_HEARTBEAT_SECONDS": "1",
            "GLEANER_WORKER_SHUTDOWN_GRACE_SECONDS": "1",
            "GLEANER_PARSING_RETRY_DELAYS": "0",
            "GLEANER_FETCH_ALLOW_NETWORKS": f"127.0.0.1:{self.pages.port}",
            "GLEANER_FETCH_TIMEOUT_SECONDS": "10",
            "GLEANER_NOTION_DATABASE_ID": "0123456789abcdef0123456789abcdef",  # no token: dry run
            **self.extra_env,
        }
        self.procs.env = self.env
        self.procs.api(self.port)
        for stage in STAGES:
            self.procs.worker(stage)
        if self.with_reconciler:
            self.procs.reconciler()
        return self

    def logs(self) -> str:
        return self.procs.tail(60)

    def wait_ready(self, api_key: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """The API answers and a worker of each stage has registered."""
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {api_key}"}
        while True:
            try:
                body = httpx.get(
                    f"{self.api_url}/api/monitoring/workers", headers=headers, timeout=2
                ).json()
                listening = {q for w in body.get("workers", []) for q in w["queues"]}
                if all(stage in listening for stage in STAGES):
                    return
            except httpx.HTTPError:
                pass
            exited = [p.args for p in self.processes if p.poll() is not None]
            assert not exited, f"stack processes exited: {exited}\n{self.logs()}"
            assert time.monotonic() < deadline, (
                f"the stack did not come up in time\n{self.logs()}"
            )
            time.sleep(0.2)

    def stop(self) -> None:
        # Workers and the API together (each shuts down warm), Redis last.
        self.procs.stop_all()
        if self.redis is not None:
            stop_process(self.redis)


@pytest.fixture(scope="module")
def pages() -> Iterator[PageServer]:
    server = PageServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, pages: PageServer
) -> Iterator[LocalStack]:
    """One stack per test module (a module may define its own `stack` with other settings)."""
    local = LocalStack(tmp_path_factory.mktemp("stack"), pages).start()
    yield local
    local.stop()
