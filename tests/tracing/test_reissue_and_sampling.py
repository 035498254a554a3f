"""A SIGKILLed worker's item stays in its trace; sampling and the off switch are honoured.

The re-issued attempt must also point at its trace from the two other places a user looks: its JSON
log lines and the exemplar on its stage duration histogram, scraped by a real Prometheus.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gleaner.db import session_scope
from gleaner.models import TaskItem
from gleaner.runtime import Runtime
from gleaner.settings import Settings
from gleaner_api.app import create_app
from tests.conftest import RunWorker, StartWorker
from tests.factories import submit_task
from tests.observability.prometheus import start_prometheus
from tests.servers import free_port, stop_process
from tests.stack import PageServer, Processes
from tests.tracing.conftest import StartApi, submit, wait_finished
from tests.tracing.otlp import GRPCReceiver, OTLPReceiver


@pytest.fixture
def pages() -> Iterator[PageServer]:
    server = PageServer().start()
    yield server
    server.stop()


def item_row(runtime: Runtime, task_id: int) -> TaskItem:
    with session_scope(runtime.sessions) as session:
        item = session.scalars(
            select(TaskItem).where(TaskItem.task_id == task_id)
        ).one()
        session.expunge(item)
        return item


@pytest.mark.slow
def test_a_sigkilled_workers_item_is_reissued_in_its_trace_logs_and_exemplars(
    test_env: dict[str, str],
    otel_env: dict[str, str],
    receiver: OTLPReceiver,
    pages: PageServer,
    runtime: Runtime,
    api_key: str,
    start_api: StartApi,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    env = {
        **otel_env,
        "GLEANER_FETCH_ALLOW_NETWORKS": f"127.0.0.1:{pages.port}",
        "GLEANER_WORKER_HEARTBEAT_SECONDS": "1",
        "GLEANER_RECONCILE_INTERVAL_SECONDS": "1",
    }
    api = start_api(otel_env)
    victim = start_worker("parsing", env=env)
    task_id = submit(api, api_key, [pages.url("/slow/kill")], stages=["parsing"])
    deadline = time.monotonic() + 180
    while item_row(runtime, task_id).status != "running":
        assert time.monotonic() < deadline, "the item never started"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)  # mid-fetch: its spans die with it
    victim.wait(10)

    metrics_port = free_port()
    start_worker(
        "parsing",
        env={
            **env,
            "GLEANER_LOG_FORMAT": "json",
            "GLEANER_WORKER_METRICS_PORT": str(metrics_port),
        },
    )
    log_path = tmp_path / "worker-parsing-1.log"
    reconciler = Processes({**test_env, **env}, tmp_path)
    reconciler.reconciler()
    prometheus = start_prometheus(
        tmp_path / "prometheus",
        {"worker": [f"127.0.0.1:{metrics_port}"]},
        features=["exemplar-storage"],
    )
    try:
        task = wait_finished(api, api_key, task_id)
        assert task["status"] == "completed", task["items"]
        (item,) = task["items"]
        trace_id = item["trace_id"]
        assert trace_id
        spans = receiver.wait_for(
            lambda got: any(
                s.name == "process parsing" and s.trace_id == trace_id for s in got
            )
        )
        trace = [s for s in spans if s.trace_id == trace_id]
        root = next(s for s in trace if s.name == "create parsing")
        (run,) = [s for s in trace if s.name == "process parsing"]
        # the reconciler's job carried no context: the run found its trace in SQL
        assert run.parent_id == root.span_id
        assert run.attributes["gleaner.attempt"] == 2
        assert run.attributes["gleaner.outcome"] == "completed"
        first_job = next(s for s in trace if s.name == "enqueue parsing")
        assert (
            run.attributes["messaging.message.id"]
            != (first_job.attributes["messaging.message.id"])
        )

        # every JSON line the survivor logged about the item names the trace and the run's span
        lines = [
            json.loads(line)
            for line in log_path.read_text().splitlines()
            if line.startswith("{")
        ]
        about = [line for line in lines if line.get("item_id") == item["id"]]
        assert about
        assert {(line["trace_id"], line["span_id"]) for line in about} == {
            (trace_id, run.span_id)
        }

        # the stage duration's exemplar, scraped in OpenMetrics, links the slow bucket to the trace
        now = time.time()
        deadline = time.monotonic() + 90
        found: set[str] = set()
        while not found and time.monotonic() < deadline:
            series = prometheus.exemplars(
                'gleaner_stage_duration_seconds_bucket{stage="parsing"}',
                now - 600,
                now + 60,
            )
            found = {e["labels"]["trace_id"] for s in series for e in s["exemplars"]}
            time.sleep(0.5)
        assert found == {trace_id}
    finally:
        stop_process(prometheus.process)
        reconciler.stop_all()


def test_a_ratio_of_zero_exports_nothing_for_new_traces(
    test_env: dict[str, str],
    otel_env: dict[str, str],
    receiver: OTLPReceiver,
    pages: PageServer,
    runtime: Runtime,
    api_key: str,
    start_api: StartApi,
    run_worker: RunWorker,
) -> None:
    sampled_out = {
        **otel_env,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0",
    }
    api = start_api(sampled_out)
    task_id = submit(api, api_key, [pages.url("/article/none")], stages=["parsing"])
    run_worker(
        "parsing",
        env={**sampled_out, "GLEANER_FETCH_ALLOW_NETWORKS": f"127.0.0.1:{pages.port}"},
    )  # a burst worker exports what it has before it exits
    task = wait_finished(api, api_key, task_id)
    assert task["status"] == "completed"
    # the item has a trace context (its children follow it), marked not sampled, and no trace link
    stored = item_row(runtime, task_id).traceparent
    assert stored is not None
    assert not int(stored.rsplit("-", 1)[1], 16) & 1  # the W3C "sampled" flag is off
    assert task["items"][0]["trace_id"] is None
    time.sleep(1)  # the API's batch delay is 0.1 s
    assert receiver.received() == []


def test_nothing_is_traced_or_exported_when_off(
    otel_env: dict[str, str],
    receiver: OTLPReceiver,
    pages: PageServer,
    settings: Settings,
    runtime: Runtime,
    api_key: str,
    run_worker: RunWorker,
) -> None:
    # this test process never turned tracing on: its API is the one a default deployment runs
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/api/pipelines",
            json={"urls": [pages.url("/article/off")], "stages": ["parsing"]},
            headers={"Authorization": f"Bearer {api_key}"},
        )
        assert response.status_code == 202, response.text
        task_id = response.json()["task_id"]
        # the SDK's own switch wins over an endpoint left in the environment
        run_worker(
            "parsing",
            env={
                **otel_env,
                "OTEL_SDK_DISABLED": "true",
                "GLEANER_FETCH_ALLOW_NETWORKS": f"127.0.0.1:{pages.port}",
            },
        )
        task = client.get(
            f"/api/tasks/{task_id}", headers={"Authorization": f"Bearer {api_key}"}
        ).json()["task"]
    assert task["status"] == "completed"
    assert task["items"][0]["trace_id"] is None
    assert item_row(runtime, task_id).traceparent is None
    assert receiver.received() == []
    assert receiver.requests == 0


def test_grpc_is_one_variable_away(
    test_env: dict[str, str], pages: PageServer, runtime: Runtime, run_worker: RunWorker
) -> None:
    receiver = GRPCReceiver()
    try:
        task_id = submit_task(runtime, urls=[pages.url("/article/grpc")])
        run_worker(
            "parsing",
            env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "GLEANER_FETCH_ALLOW_NETWORKS": f"127.0.0.1:{pages.port}",
            },
        )
        assert item_row(runtime, task_id).status == "completed"
        names = {(s.service, s.name) for s in receiver.received()}
        assert ("gleaner-worker-parsing", "process parsing") in names
        assert ("gleaner-worker-parsing", "fetch") in names
    finally:
        receiver.stop()
