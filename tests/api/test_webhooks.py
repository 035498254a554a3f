"""Webhooks against a real local receiver that verifies each signature with the `standardwebhooks`
library (not our code), fails twice, times out once, then answers; another answers 410 — on SQLite and
PostgreSQL, with tasks run by a real worker process."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook

from gleaner.db import session_scope
from gleaner.deliveries import deliver_due, make_client
from gleaner.runtime import Runtime
from gleaner.webhooks import collect_events
from tests.conftest import RunWorker
from tests.factories import submit_task


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


class Receiver(ThreadingHTTPServer):
    """Answers from a script (a status code, or "sleep" to outlast the sender's timeout), then 200s;
    keeps every request and whether its signature verified."""

    def __init__(self, script: list[int | str]) -> None:
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.script = list(script)
        self.secret = ""
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            Webhook(self.server.secret).verify(body, headers)
            verified = True
        except (
            Exception
        ):  # the library's WebhookVerificationError: recorded, asserted by the test
            verified = False
        with self.server.lock:
            answer = self.server.script.pop(0) if self.server.script else 200
            self.server.received.append(
                {
                    "body": json.loads(body),
                    "headers": headers,
                    "verified": verified,
                    "answer": answer,
                }
            )
        if answer == "sleep":
            time.sleep(2.5)
            answer = 200
        self.send_response(int(answer))
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    started: list[Receiver] = []

    def start(script: list[int | str]) -> Receiver:
        server = Receiver(script)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver(
    receiver_factory: Any, test_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Receiver:
    """Started before the app's settings are read, so exactly its address:port is allow-listed."""
    server: Receiver = receiver_factory([])
    for key, value in {
        "GLEANER_WEBHOOK_ALLOW_NETWORKS": server.address,
        "GLEANER_WEBHOOK_TIMEOUT_SECONDS": "1",
        "GLEANER_WEBHOOK_RETRY_BASE_SECONDS": "0",
    }.items():
        test_env[key] = value
        monkeypatch.setenv(key, value)
    return server


def register(client: TestClient, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/webhooks", json={"url": receiver.url, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    receiver.secret = body["secret"]
    return body


def deliver(runtime: Runtime, rounds: int = 8) -> list[str]:
    """Collect events, then send what is due, `rounds` times; returns every attempt's outcome."""
    outcomes: list[str] = []
    with make_client(runtime.settings) as http:
        for _ in range(rounds):
            with session_scope(runtime.sessions) as session:
                collect_events(session)
            outcomes += [
                a.outcome for a in deliver_due(runtime.sessions, http, runtime.settings)
            ]
    return outcomes


class TestDelivery:
    def test_fails_twice_times_out_then_delivers_signed(
        self,
        receiver: Receiver,
        client: TestClient,
        runtime: Runtime,
        run_worker: RunWorker,
    ) -> None:
        hook = register(client, receiver)
        assert hook["secret"].startswith("whsec_")
        receiver.script = [500, 503, "sleep"]
        done = submit_task(
            runtime,
            urls=["https://example.com/done"],
            owner="alice",
            job_path="tests.jobs.succeed",
        )
        run_worker("parsing")  # a real worker ends the task
        assert deliver(runtime) == ["retry", "retry", "retry", "delivered"]
        assert [r["answer"] for r in receiver.received] == [500, 503, "sleep", 200]
        assert all(r["verified"] for r in receiver.received)
        # the same webhook-id on every try of one event, as Standard Webhooks asks
        assert len({r["headers"]["webhook-id"] for r in receiver.received}) == 1
        body = receiver.received[-1]["body"]
        assert body["type"] == "task.ended"
        assert body["task"]["id"] == done
        assert body["task"]["status"] == "completed"
        assert body["task"]["completed_items"] == 1
        assert body["links"]["task"] == f"/api/tasks/{done}"
        log = client.get(f"/api/webhooks/{hook['id']}/deliveries").json()["items"]
        assert {d["state"] for d in log} == {"delivered"}
        [retried] = log
        assert retried["attempts"] == 4
        assert [a["status_code"] for a in retried["log"]] == [500, 503, None, 200]
        assert retried["log"][2]["error"] == "timeout"
        metrics = client.get("/metrics").text
        assert 'gleaner_webhook_deliveries_total{outcome="delivered"} 1.0' in metrics
        assert "gleaner_webhook_backlog 0.0" in metrics

    def test_410_disables_the_endpoint(
        self, receiver: Receiver, client: TestClient, runtime: Runtime
    ) -> None:
        hook = register(client, receiver, per_item=True)
        receiver.script = [410]
        task_id = client.post(
            "/api/pipelines",
            json={
                "urls": ["https://example.com/a", "https://example.com/b"],
                "stages": ["parsing"],
            },
        ).json()["task_id"]
        client.delete(f"/api/parsing/async/cancel/{task_id}")
        outcomes = deliver(runtime, rounds=3)
        assert outcomes == [
            "disabled"
        ]  # the task and both items: one request, then nothing
        assert len(receiver.received) == 1
        shown = client.get("/api/webhooks").json()["items"][0]
        assert shown["disabled_at"] is not None
        assert "410" in shown["disabled_reason"]
        states = [
            d["state"]
            for d in client.get(f"/api/webhooks/{hook['id']}/deliveries").json()[
                "items"
            ]
        ]
        assert states == ["disabled"] * 3

    def test_only_the_named_task(
        self, receiver: Receiver, client: TestClient, runtime: Runtime
    ) -> None:
        first, second = (
            client.post(
                "/api/pipelines",
                json={"urls": [f"https://example.com/{n}"], "stages": ["parsing"]},
            ).json()["task_id"]
            for n in ("x", "y")
        )
        register(client, receiver, task_id=second)
        for task_id in (first, second):
            client.delete(f"/api/parsing/async/cancel/{task_id}")
        assert deliver(runtime, rounds=2) == ["delivered"]
        assert receiver.received[0]["body"]["task"]["id"] == second


class TestTargets:
    @pytest.mark.parametrize(
        "url",
        [
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.1/hook",
            "http://[::1]:8080/hook",
            "ftp://example.org/hook",
            "http://127.0.0.1:22/hook",
        ],
    )
    def test_private_or_odd_targets_are_422(self, client: TestClient, url: str) -> None:
        response = client.post("/api/webhooks", json={"url": url})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_webhook_url"

    def test_another_owner_sees_nothing(
        self, receiver: Receiver, client: TestClient, other_key: str
    ) -> None:
        hook = register(client, receiver)
        theirs = {"Authorization": f"Bearer {other_key}"}
        assert (
            client.get(
                f"/api/webhooks/{hook['id']}/deliveries", headers=theirs
            ).status_code
            == 404
        )
        assert (
            client.delete(f"/api/webhooks/{hook['id']}", headers=theirs).status_code
            == 404
        )
        assert client.get("/api/webhooks", headers=theirs).json()["total"] == 0
        listed = client.get("/api/webhooks").json()["items"][0]
        assert "secret" not in listed
