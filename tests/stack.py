"""A real local stack for the CLI and web page tests: uvicorn API + one worker per stage + a page server.

Each is a real process (the page server is a thread) on 127.0.0.1, with its own redis-server and
SQLite file, so a test module can start it once and drive it only from outside, over HTTP.

Page server routes:
  /article/<name>   an article (its title and text name <name>)
  /slow/<name>      the same after DEFAULT_SLOW_SECONDS, so items are seen queued and running
  /fixable/<name>   404 until `fix(name)` is called, then the article: a failure to retry
  /wait/<s>/<name>  the article after <s> seconds: a job that is still running when a test acts
  /unavailable/<name>  503 (a retryable failure) until `fix(name)`, then the article
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from gleaner.db import migrate
from tests.servers import free_port, start_redis_server, stop_process

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("parsing", "ai", "notion")

DEFAULT_SLOW_SECONDS = 1.5
"""How long /slow/<name> holds its answer."""

START_TIMEOUT_SECONDS = 60.0
"""Budget for the API to answer and every worker to register (imports are slow on 2 cores)."""

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


class PageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _PageHandler)
        self.fixed: set[str] = set()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def fix(self, name: str) -> None:
        self.fixed.add(name)

    def start(self) -> PageServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _PageHandler(BaseHTTPRequestHandler):
    server: PageServer

    def do_GET(self) -> None:
        _, kind, name = (self.path.split("/", 2) + ["", ""])[:3]
        if kind == "slow":
            time.sleep(DEFAULT_SLOW_SECONDS)
        if kind == "wait":
            seconds, _, name = name.partition("/")
            time.sleep(float(seconds))
        if kind in ("article", "slow", "wait") or (
            kind in ("fixable", "unavailable") and name in self.server.fixed
        ):
            self._answer(200, article(name))
        elif kind == "unavailable":
            self._answer(503, b"<html><body><h1>Try again later</h1></body></html>")
        else:
            self._answer(404, b"<html><body><h1>Not found</h1></body></html>")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


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
        self.processes: list[subprocess.Popen[bytes]] = []
        self.env: dict[str, str] = {}
        self.log_files: list[BinaryIO] = []

    def start(self) -> LocalStack:
        redis_process, redis_url = start_redis_server(self.workdir)
        self.processes.append(redis_process)
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
        self._spawn(
            "api",
            [
                sys.executable,
                "-m",
                "gleaner_api",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
        )
        for stage in STAGES:
            self._spawn(f"worker-{stage}", [sys.executable, "-m", f"gleaner_{stage}"])
        if self.with_reconciler:
            self._spawn(
                "reconciler", [sys.executable, "-m", "gleaner_api", "reconcile"]
            )
        return self

    def _spawn(self, name: str, command: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "wb")
        self.log_files.append(log)
        self.processes.append(
            subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=log, stderr=log)
        )

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.workdir.glob("*.log"))
        )

    def wait_ready(self, api_key: str) -> None:
        """The API answers and a worker of each stage has registered."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
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
        redis_process, *others = self.processes
        for process in others:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*others, redis_process]:
            stop_process(process)
        for log in self.log_files:
            log.close()
