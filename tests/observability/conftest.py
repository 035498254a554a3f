"""Fixtures for the observability tests: real API processes, whose /metrics carries the queue collector."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.observability.scrape import scrape
from tests.servers import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def start_api(test_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[], int]]:
    """Start `python -m gleaner_api serve` on 127.0.0.1; returns its port once /metrics answers."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> int:
        port = free_port()
        log = open(
            tmp_path / f"api-{len(started)}.log", "wb"
        )  # the child writes it; ours closes on exit
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gleaner_api",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env={**os.environ, **test_env, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
        started.append(process)
        scrape(port)
        return port

    yield start
    for process in started:
        stop_process(process)
