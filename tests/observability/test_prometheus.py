"""A real Prometheus scrapes real worker processes and two real API processes (two replicas)
while the workers drain a queue, and evaluates the exact PromQL the chart's autoscalers use."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest
import yaml

from gleaner.queues import PIPELINE_STAGES, rq_queue
from gleaner.runtime import Runtime
from gleaner.settings import Stage
from tests.factories import get_task, submit_task
from tests.observability.prometheus import Prometheus, start_prometheus, stop_prometheus
from tests.observability.scrape import scrape
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
QUERIES_FILE = ROOT / "helm/gleaner/files/autoscaling-queries.yaml"
# The labels the chart's ServiceMonitors give every target of release "gleaner" in namespace "gleaner".
RELEASE_LABELS = {"namespace": "gleaner", "gleaner_release": "gleaner"}

ITEMS = 6
WORKERS = 2  # pods of one job slot each
JOB_SECONDS = 3.0  # several scrape intervals: every phase of the drain is seen


def autoscaling_queries() -> dict[str, str]:
    """stage → the PromQL the chart's prometheus-adapter rule / KEDA trigger uses, for RELEASE_LABELS."""
    data: Any = yaml.safe_load(QUERIES_FILE.read_text())
    while isinstance(data, dict) and not set(PIPELINE_STAGES) <= set(data):
        nested = [value for value in data.values() if isinstance(value, dict)]
        assert len(nested) == 1, (
            f"{QUERIES_FILE}: expected a stage → query map, got {data!r}"
        )
        data = nested[0]
    return {
        stage: str(data[stage])
        .replace("${namespace}", RELEASE_LABELS["namespace"])
        .replace("${release}", RELEASE_LABELS["gleaner_release"])
        for stage in PIPELINE_STAGES
    }


def values(series: dict[str, Any]) -> list[float]:
    return [float(value) for _, value in series["values"]]


@pytest.fixture
def prometheus_server(
    tmp_path: Path,
) -> Iterator[Callable[[dict[str, list[str]]], Prometheus]]:
    servers: list[Prometheus] = []

    def start(jobs: dict[str, list[str]]) -> Prometheus:
        servers.append(start_prometheus(tmp_path / "prometheus", jobs, RELEASE_LABELS))
        return servers[-1]

    yield start
    for server in servers:
        stop_prometheus(server)


@pytest.mark.timeout(
    240
)  # two API and two worker processes start first: slow on a loaded machine
def test_prometheus_computes_the_chart_signal_from_real_processes(
    runtime: Runtime,
    start_worker: Callable[..., Popen[bytes]],
    start_api: Callable[[], int],
    prometheus_server: Callable[[dict[str, list[str]]], Prometheus],
) -> None:
    queries = autoscaling_queries()
    # ai jobs nobody takes, one of them on the high lane: its signal must count both lanes.
    rq_queue(runtime.redis, "ai").enqueue("tests.jobs.succeed", 1001)
    rq_queue(runtime.redis, "ai").enqueue("tests.jobs.succeed", 1002)
    rq_queue(runtime.redis, "ai-high").enqueue("tests.jobs.succeed", 1003)

    apis = [f"127.0.0.1:{start_api()}" for _ in range(2)]
    worker_ports = [free_port() for _ in range(WORKERS)]
    for port in worker_ports:
        start_worker(
            "parsing",
            env={
                "GLEANER_WORKER_METRICS_PORT": str(port),
                "GLEANER_WORKER_CONCURRENCY": "1",
            },
        )
    for port in worker_ports:
        scrape(port)
    prometheus = prometheus_server(
        {
            "gleaner-api": apis,
            "gleaner-worker-parsing": [f"127.0.0.1:{port}" for port in worker_ports],
        }
    )
    prometheus.wait_for("count(up == 1)", 2 + WORKERS)
    prometheus.wait_for(queries["ai"], 3)

    start = time.time()
    task_id = submit_task(
        runtime,
        urls=[f"https://example.com/{n}" for n in range(ITEMS)],
        config={"sleep_seconds": JOB_SECONDS},
        job_path="tests.jobs.sleep_configured",
    )
    deadline = time.monotonic() + 60
    while get_task(runtime, task_id).status != "completed":
        assert time.monotonic() < deadline, "the workers did not drain the queue"
        time.sleep(0.2)
    # Both workers' counters, scraped from their own ports, add up to every item.
    prometheus.wait_for(
        'sum(gleaner_stage_items_total{stage="parsing",outcome="completed"})', ITEMS
    )
    prometheus.wait_for(queries["parsing"], 0)
    end = (
        time.time() + 1
    )  # a step past the scrape that saw 0 (Prometheus reads the latest sample)

    # One series per queue, labelled with it, although two API replicas export each gauge.
    for stage in PIPELINE_STAGES:
        result = prometheus.query(queries[stage])
        assert [series["metric"] for series in result] == [{"queue": stage}], (
            stage,
            result,
        )
    assert len(prometheus.query('gleaner_queue_backlog_jobs{queue="parsing"}')) == 2
    assert prometheus.value(queries["ai"]) == 3
    assert prometheus.value(queries["notion"]) == 0

    [signal] = prometheus.query_range(queries["parsing"], start, end)
    [waiting] = prometheus.query_range(
        'max by (queue) (gleaner_queue_jobs{queue="parsing",state="waiting"})',
        start,
        end,
    )
    [running] = prometheus.query_range(
        'max by (queue) (gleaner_queue_jobs{queue="parsing",state="running"})',
        start,
        end,
    )
    backlog, waits, runs = values(signal), values(waiting), values(running)
    assert len(backlog) == len(waits) == len(runs)

    # It counts the whole burst, then only goes down as items finish, to 0.
    peak = backlog.index(max(backlog))
    assert backlog[peak] == ITEMS
    assert all(
        later <= earlier
        for earlier, later in zip(backlog[peak:], backlog[peak + 1 :], strict=False)
    )
    assert backlog[-1] == 0
    # While only running jobs remain, the waiting count (what KEDA's redis trigger reads) is 0 but the
    # chart's signal is not: the busy workers keep their pods.
    only_running = [
        (b, r) for b, w, r in zip(backlog, waits, runs, strict=True) if w == 0 and r > 0
    ]
    assert only_running, list(zip(backlog, waits, runs, strict=True))
    assert all(b >= r > 0 for b, r in only_running)


def test_agreed_query_names_each_stage() -> None:
    queries = autoscaling_queries()
    stage: Stage
    for stage in PIPELINE_STAGES:
        assert "gleaner_queue_backlog_jobs" in queries[stage]
        assert f'queue="{stage}"' in queries[stage]
        assert queries[stage].replace(" ", "").startswith("maxby(queue)"), queries[
            stage
        ]
