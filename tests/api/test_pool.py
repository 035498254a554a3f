"""More concurrent clients than database connections: every request is answered, none hangs or fails.

A real uvicorn process with a pool of 2 connections and FastAPI's 40 request threads, 64 clients at
once (task reads with 200 items, SSE streams, submissions). With a long pool timeout every request
must succeed: a session that keeps its connection while waiting for a free thread would deadlock
until the timeout. With a short one the pool runs out, and that answers 503 with Retry-After.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.api.live import LiveApi
from tests.conftest import ROOT

CLIENTS = 64
ROUNDS = 3
TASK_ITEMS = 200


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


@pytest.fixture
def apis(
    test_env: dict[str, str], api_key: str, tmp_path: Path
) -> Iterator[tuple[LiveApi, LiveApi]]:
    """Two API processes on the same database: a patient pool and an impatient one."""
    env = {**os.environ, **test_env, "PYTHONPATH": str(ROOT)}
    env |= {"GLEANER_DATABASE_POOL_SIZE": "2", "GLEANER_DATABASE_MAX_OVERFLOW": "0"}
    patient = LiveApi(
        env | {"GLEANER_API_POOL_TIMEOUT_SECONDS": "30"}, tmp_path / "patient.log"
    )
    impatient = LiveApi(
        env | {"GLEANER_API_POOL_TIMEOUT_SECONDS": "0.05"}, tmp_path / "impatient.log"
    )
    try:
        yield patient.wait_ready(), impatient.wait_ready()
    finally:
        patient.stop()
        impatient.stop()


def _hammer(base: str, api_key: str, task_id: int) -> Counter[str]:
    """CLIENTS clients at once, ROUNDS requests each; counts answers by status (and transport errors)."""
    headers = {"Authorization": f"Bearer {api_key}"}

    def client(number: int) -> Counter[str]:
        seen: Counter[str] = Counter()
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            for _ in range(ROUNDS):
                try:
                    if number % 8 == 0:  # an SSE subscriber reads its first event
                        with http.stream("GET", f"/api/tasks/{task_id}/events") as sse:
                            response = sse
                            if sse.status_code != 200:
                                sse.read()
                            for line in sse.iter_lines():
                                if line.startswith("data:"):
                                    break
                    elif number % 8 == 1:
                        response = http.post(
                            "/api/links", json={"url": f"https://example.org/{number}"}
                        )
                    else:
                        response = http.get(f"/api/tasks/{task_id}")
                except httpx.HTTPError as exc:
                    seen[type(exc).__name__] += 1
                    continue
                if response.status_code == 503:
                    assert response.headers.get("Retry-After"), response.headers
                    assert response.json()["error"]["code"] == "database_busy"
                seen[str(response.status_code)] += 1
        return seen

    with ThreadPoolExecutor(CLIENTS) as pool:
        return sum(pool.map(client, range(CLIENTS)), Counter())


def test_more_clients_than_connections(
    apis: tuple[LiveApi, LiveApi], api_key: str
) -> None:
    patient, impatient = apis
    headers = {"Authorization": f"Bearer {api_key}"}
    urls = [f"https://example.org/article/{i}" for i in range(TASK_ITEMS)]
    created = httpx.post(
        f"{patient.url}/api/pipelines", json={"urls": urls}, headers=headers, timeout=60
    )
    assert created.status_code == 202, created.text
    task_id = created.json()["task_id"]

    # Long pool timeout: no request may end up waiting on it, so every answer is a success.
    answers = _hammer(patient.url, api_key, task_id)
    assert set(answers) <= {"200", "201"}, (answers, patient.logs())

    # Short pool timeout: the pool runs out, which is overload (503 + Retry-After), never a 500 or a hang.
    answers = _hammer(impatient.url, api_key, task_id)
    assert set(answers) <= {"200", "201", "503"}, (answers, impatient.logs())
    assert answers["503"] > 0, answers
    for api in (patient, impatient):  # both still serve once the crowd is gone
        after = httpx.get(f"{api.url}/api/tasks/{task_id}", headers=headers, timeout=30)
        assert after.status_code == 200, api.logs()
