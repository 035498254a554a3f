"""Fixtures for the observability tests: queue-metrics exporter processes (stand-ins for API replicas)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.observability.exporter import scrape
from tests.servers import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def start_exporter(
    test_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[[], int]]:
    """Start a process serving the API's metrics registry; returns its port once it answers."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> int:
        port = free_port()
        log = open(
            tmp_path / f"exporter-{len(started)}.log", "wb"
        )  # the child writes it; ours closes on exit
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.observability.exporter", str(port)],
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
