"""Fixtures for the observability tests: real API processes, whose /metrics carries the queue collector."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.observability.scrape import scrape
from tests.servers import free_port
from tests.stack import Processes


@pytest.fixture
def start_api(test_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[], int]]:
    """Start `python -m gleaner_api serve` on 127.0.0.1; returns its port once /metrics answers."""
    processes = Processes(test_env, tmp_path)

    def start() -> int:
        port = free_port()
        processes.api(port)
        scrape(port)
        return port

    yield start
    processes.stop_all()
