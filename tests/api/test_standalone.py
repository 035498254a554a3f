"""`make run`'s stack: it starts everything, files a link end to end, and Ctrl-C leaves nothing running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import ROOT
from tests.parsing.server import PageServer
from tests.servers import free_port


@pytest.fixture
def page_server() -> Iterator[PageServer]:
    server = PageServer().start()
    yield server
    server.stop()


def test_standalone_runs_a_pipeline_and_stops_cleanly(
    tmp_path: Path, page_server: PageServer
) -> None:
    port, redis_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GLEANER_") and key != "REDIS_URL"
    }
    env |= {
        "GLEANER_DATA_DIR": str(tmp_path / "data"),
        "GLEANER_WORKER_METRICS_PORT": "0",
        "GLEANER_FETCH_ALLOW_NETWORKS": f"127.0.0.1:{page_server.port}",
    }
    stack = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gleaner_api",
            "standalone",
            "--port",
            str(port),
            "--redis-port",
            str(redis_port),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=open(tmp_path / "stack.log", "wb"),
        text=True,
    )
    try:
        banner = ""
        assert stack.stdout is not None
        while "Ctrl-C stops everything" not in banner:
            line = stack.stdout.readline()
            assert line, (tmp_path / "stack.log").read_text()[-3000:]
            banner += line
        key = (tmp_path / "data" / "local-api-key").read_text().strip()
        assert key in banner
        assert f"http://127.0.0.1:{port}/" in banner
        children = psutil.Process(stack.pid).children(recursive=True)
        assert len(children) >= 6  # redis, API, reconciler, three workers

        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key}"},
        )
        task_id = api.post(
            "/api/pipelines", json={"urls": [page_server.url("/news")]}
        ).json()["task_id"]
        deadline = time.monotonic() + 90
        while (task := api.get(f"/api/tasks/{task_id}").json()["task"])["status"] in (
            "queued",
            "running",
        ):
            assert time.monotonic() < deadline, task
            time.sleep(0.3)
        assert task["status"] == "completed", task["items"]
        assert task["items"][0]["notion_state"] == "dry_run"
    finally:
        stack.send_signal(signal.SIGINT)
        stack.wait(60)
    assert stack.returncode == 0
    assert not [
        child
        for child in children
        if child.is_running() and child.status() != psutil.STATUS_ZOMBIE
    ]
