"""`serve --processes 2`: two API processes behind one port, one /metrics for both, one SIGTERM for all.

A real supervisor and its two uvicorn processes on SQLite and Redis. Requests spread over both (each
writes its own prometheus-client files), /metrics counts every request sent whichever process answers
the scrape, and SIGTERM to the supervisor stops every process cleanly.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.api.live import LiveApi
from tests.conftest import ROOT

BATCH = 40
ROUTE = "/api/tasks"


@pytest.fixture
def metrics_dir(tmp_path: Path) -> Path:
    path = tmp_path / "metrics"
    path.mkdir()
    (path / "counter_1.db").write_bytes(b"left by an earlier run")  # serve empties it
    return path


@pytest.fixture
def api(
    test_env: dict[str, str], metrics_dir: Path, tmp_path: Path
) -> Iterator[LiveApi]:
    env = {**os.environ, **test_env, "PYTHONPATH": str(ROOT)}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    live = LiveApi(env, tmp_path / "api.log", ("--processes", "2"))
    try:
        yield live.wait_ready()
    finally:
        live.stop()


def requests_per_process(metrics_dir: Path) -> dict[int, float]:
    """GET /api/tasks answered, per process id, from each process's own counter file."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        families = MultiProcessCollector.merge([str(path)], accumulate=True)  # type: ignore[no-untyped-call]
        counts[int(path.stem.split("_")[1])] = sum(
            sample.value
            for family in families
            if family.name == "gleaner_api_requests"
            for sample in family.samples
            if sample.labels.get("route") == ROUTE
        )
    return counts


def scrape(url: str) -> dict[str, float]:
    """Each sample's value summed over label sets, for the metrics of this test."""
    body = httpx.get(f"{url}/metrics", timeout=30).text
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.labels.get("route", ROUTE) == ROUTE:
                totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def test_two_processes_share_the_port_the_metrics_and_the_shutdown(
    api: LiveApi, api_key: str, metrics_dir: Path
) -> None:
    supervisor = psutil.Process(api.process.pid)
    headers = {"Authorization": f"Bearer {api_key}", "Connection": "close"}

    def one(_: int) -> int:
        # a new connection each time: the kernel hands it to whichever process accepts first
        return httpx.get(f"{api.url}{ROUTE}", headers=headers, timeout=60).status_code

    sent = 0
    deadline = time.monotonic() + 120
    with ThreadPoolExecutor(8) as pool:
        while len(requests_per_process(metrics_dir)) < 2:
            assert time.monotonic() < deadline, (
                f"one process answered everything: {requests_per_process(metrics_dir)}"
            )
            assert set(pool.map(one, range(BATCH))) == {200}
            sent += BATCH

    servers = {child.pid for child in supervisor.children(recursive=True)}
    per_process = requests_per_process(metrics_dir)
    assert set(per_process) <= servers, (per_process, servers)
    assert sum(per_process.values()) == sent

    # one scrape, answered by either process, counts both: every request sent, none twice
    totals = scrape(api.url)
    assert totals["gleaner_api_requests_total"] == sent
    assert totals["gleaner_api_request_duration_seconds_count"] == sent
    assert totals["gleaner_api_requests_in_progress"] == 1  # the scrape itself
    assert totals["gleaner_queue_up"] == 1  # the queue depths still come from Redis

    children = supervisor.children(recursive=True)
    api.process.send_signal(signal.SIGTERM)
    assert api.process.wait(timeout=60) == 0, api.logs()
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, alive
    # each process ran its shutdown: its live gauge left the sum, its counters stayed
    assert not list(metrics_dir.glob("gauge_livesum_*.db"))
    assert sum(requests_per_process(metrics_dir).values()) == sent
