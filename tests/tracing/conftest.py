"""Traced processes for the tracing tests: a real OTLP/HTTP receiver, the API as a process, workers.

Every process gets only the standard OTEL_* variables a user would set; nothing in Gleaner is patched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.stack import Processes
from tests.tracing.otlp import OTLPReceiver

StartApi = Callable[[dict[str, str]], str]
"""The `start_api` fixture: start_api(env) starts `python -m gleaner_api serve`; returns its URL once
it answers."""


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    server = OTLPReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def otel_env(receiver: OTLPReceiver) -> dict[str, str]:
    """What a user sets to turn tracing on (plus a short export delay, so the test need not wait 5 s)."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }


@pytest.fixture
def start_api(test_env: dict[str, str], tmp_path: Path) -> Iterator[StartApi]:
    """The API as `make run` starts it (tests.stack.Processes), with the test's environment."""
    processes = Processes(test_env, tmp_path)
    yield processes.serving_api
    processes.stop_all()


def submit(api_url: str, api_key: str, urls: list[str], **body: Any) -> int:
    response = httpx.post(
        f"{api_url}/api/pipelines",
        json={"urls": urls, **body},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return int(response.json()["task_id"])


def wait_finished(
    api_url: str, api_key: str, task_id: int, timeout: float = 180.0
) -> dict[str, Any]:
    """The task once every item has finished (GET /api/tasks/{id} with its items)."""
    deadline = time.monotonic() + timeout
    while True:
        task: dict[str, Any] = httpx.get(
            f"{api_url}/api/tasks/{task_id}",
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=10,
        ).json()["task"]
        if task["status"] in ("completed", "failed", "partially_failed", "cancelled"):
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.3)
