"""skaffold dev reloads: `python -m gleaner.devreload` (what the chart's devReload runs) restarts the API and a
worker when a file under the synced package changes, stopping the old process warm first, and the new
process runs the changed code. The sync is mimicked as skaffold does it: the package is copied to a folder
that wins over the installed one, and a file there is rewritten."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port
from tests.stack import ROOT, Processes

NEW_ROUTE = """

@router.get("/reload-probe", include_in_schema=False)
def reload_probe() -> dict[str, str]:
    return {"code": "two"}
"""
MARKER = 'import sys as _sys\n_sys.stderr.write("code-version: {}\\n")\n'


@pytest.fixture
def processes(test_env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    running = Processes(test_env, tmp_path)
    yield running
    running.stop_all(timeout=30)


def synced_copy(tmp_path: Path, package_dir: Path) -> Path:
    """The package as skaffold's sync leaves it in the image: a copy that the process imports."""
    sync = tmp_path / "sync"
    shutil.copytree(package_dir, sync / package_dir.name)
    return sync


def wait_until(
    check: Callable[[], bool], timeout: float, why: Callable[[], str]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(why())


def dev_command(package: str, *command: str) -> list[str]:
    return [sys.executable, "-m", "gleaner.devreload", "--package", package, "--stop-timeout", "20", "--",
            sys.executable, *command]  # fmt: skip


@pytest.mark.slow
def test_a_worker_restarts_warm_and_runs_the_changed_code(
    processes: Processes, tmp_path: Path
) -> None:
    sync = synced_copy(
        tmp_path, ROOT / "services" / "worker-parsing" / "gleaner_parsing"
    )
    init = sync / "gleaner_parsing" / "__init__.py"
    init.write_text(init.read_text() + MARKER.format("one"))
    reloader = processes.run(
        dev_command("gleaner_parsing", "-m", "gleaner_parsing"),
        env={"PYTHONPATH": str(sync)},
        name="dev-parsing",
    )
    log = tmp_path / "dev-parsing-0.log"

    def logged() -> str:
        return log.read_text(errors="replace")

    wait_until(lambda: "worker_starting" in logged(), 60, logged)
    assert "code-version: one" in logged()
    time.sleep(
        1.0
    )  # its signal handlers are installed just after it logs worker_starting
    init.write_text(init.read_text().replace("code-version: one", "code-version: two"))
    wait_until(lambda: "code-version: two" in logged(), 60, logged)
    text = logged()
    restart = text.index("devreload_restart")
    # The old worker shut down warm (SIGTERM: running jobs may finish) before the new code started.
    assert text.index("worker_warm_shutdown", restart) < text.index("code-version: two")
    assert "devreload_kill" not in text
    assert reloader.poll() is None


@pytest.mark.slow
def test_the_api_restarts_and_answers_with_the_changed_code(
    processes: Processes, tmp_path: Path
) -> None:
    sync = synced_copy(tmp_path, ROOT / "services" / "api" / "gleaner_api")
    port = free_port()
    processes.run(
        dev_command("gleaner_api", "-m", "gleaner_api", "serve", "--port", str(port)),
        env={"PYTHONPATH": str(sync)},
        name="dev-api",
    )
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "dev-api-0.log"

    def answer(path: str) -> tuple[int, object]:
        try:
            response = httpx.get(base + path, timeout=2)
        except httpx.HTTPError:
            return 0, None
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    wait_until(lambda: answer("/healthz")[0] == 200, 90, log.read_text)
    assert answer("/reload-probe")[0] == 404
    time.sleep(1.0)
    # A new route on the health router (no key needed there), as a developer would add one and save.
    health = sync / "gleaner_api" / "routers" / "health.py"
    health.write_text(health.read_text() + NEW_ROUTE)
    wait_until(
        lambda: answer("/reload-probe") == (200, {"code": "two"}), 90, log.read_text
    )
    assert "devreload_restart" in log.read_text()


def test_refused_in_production(test_env: dict[str, str]) -> None:
    from tests.stack import process_env

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gleaner.devreload",
            "--package",
            "gleaner",
            "--",
            "true",
        ],
        env=process_env({**test_env, "GLEANER_ENV": "production"}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "production" in result.stderr
