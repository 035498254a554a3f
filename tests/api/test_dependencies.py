"""Task dependencies: `after` + `condition`, released by the reconciler, with real parsing workers
fetching from a local page server, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis

from gleaner.reconciler import Reconciler
from gleaner.runtime import Runtime
from tests.conftest import ROOT, RunWorker
from tests.parsing.server import PageServer
from tests.servers import stop_process


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


@pytest.fixture
def page_server() -> Iterator[PageServer]:
    server = PageServer().start()
    yield server
    server.stop()


@pytest.fixture
def parsing_env(test_env: dict[str, str], page_server: PageServer) -> dict[str, str]:
    # the workers may reach exactly the page server's address and port
    test_env["GLEANER_FETCH_ALLOW_NETWORKS"] = f"127.0.0.1:{page_server.port}"
    test_env["GLEANER_FETCH_TIMEOUT_SECONDS"] = "5"
    return test_env


def submit(client: TestClient, url: str, **options: Any) -> int:
    response = client.post(
        "/api/pipelines", json={"urls": [url], "stages": ["parsing"], **options}
    )
    assert response.status_code == 202, response.text
    return int(response.json()["task_id"])


def task(client: TestClient, task_id: int) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/api/tasks/{task_id}").json()["task"]
    return body


def status(client: TestClient, task_id: int) -> str:
    return str(task(client, task_id)["status"])


@pytest.mark.slow
@pytest.mark.usefixtures("parsing_env")
class TestChain:
    def test_a_chain_of_three_runs_in_order(
        self,
        client: TestClient,
        runtime: Runtime,
        run_worker: RunWorker,
        page_server: PageServer,
        redis: Redis,
    ) -> None:
        a = submit(client, page_server.url("/news?a"))
        b = submit(client, page_server.url("/news?b"), after=[a])
        c = submit(client, page_server.url("/news?c"), after=[b], priority="high")
        assert [status(client, t) for t in (a, b, c)] == [
            "queued",
            "waiting",
            "waiting",
        ]
        assert task(client, c)["after"] == [b]
        assert redis.llen("rq:queue:parsing") == 1  # only A's job exists
        reconciler = Reconciler(runtime)
        for expected in (
            ["completed", "waiting", "waiting"],
            ["completed", "completed", "waiting"],
            ["completed", "completed", "completed"],
        ):
            run_worker("parsing")
            assert [status(client, t) for t in (a, b, c)] == expected
            reconciler.reconcile()  # releases the next one: its parent has completed
        assert redis.llen("rq:queue:parsing-high") == 0  # C ran in its own lane
        ended_b = task(client, b)["completed_at"]
        started_c = task(client, c)["started_at"]
        assert started_c > ended_b

    def test_condition_completed_cancels_after_a_failure_finished_starts(
        self,
        client: TestClient,
        runtime: Runtime,
        run_worker: RunWorker,
        page_server: PageServer,
    ) -> None:
        parent = submit(client, page_server.url("/status/404"))
        strict = submit(client, page_server.url("/news?s"), after=[parent])
        lenient = submit(
            client, page_server.url("/news?l"), after=[parent], condition="finished"
        )
        run_worker("parsing")
        assert status(client, parent) == "failed"
        Reconciler(runtime).reconcile()
        cancelled = task(client, strict)
        assert cancelled["status"] == "cancelled"
        assert f"task {parent} it waited for ended failed" in cancelled["error"]
        run_worker("parsing")
        assert status(client, lenient) == "completed"


class TestReleasedAfterACrash:
    def test_a_reconciler_started_after_the_parent_ended_releases_it(
        self,
        client: TestClient,
        run_worker: RunWorker,
        page_server: PageServer,
        parsing_env: dict[str, str],
        tmp_path: Path,
    ) -> None:
        # No reconciler runs while the parent ends (as if it crashed then); the one started later
        # finds the waiting task from SQL alone.
        parent = submit(client, page_server.url("/news?p"))
        child = submit(client, page_server.url("/news?k"), after=[parent])
        run_worker("parsing")
        assert [status(client, parent), status(client, child)] == [
            "completed",
            "waiting",
        ]
        log = open(tmp_path / "reconciler.log", "wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "gleaner_api", "reconcile"],
            env={
                **parsing_env,
                "PATH": "/usr/bin:/bin",
                "PYTHONPATH": str(ROOT),
                "GLEANER_RECONCILE_INTERVAL_SECONDS": "0.5",
            },
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
        try:
            wait_for(lambda: status(client, child) == "queued")
        finally:
            stop_process(process)
        run_worker("parsing")
        assert status(client, child) == "completed"


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


class TestValidation:
    def test_unknown_and_foreign_parents_are_422(
        self, client: TestClient, other_key: str
    ) -> None:
        mine = submit(client, "https://example.com/mine")
        theirs = client.post(
            "/api/pipelines",
            json={"urls": ["https://example.com/theirs"], "stages": ["parsing"]},
            headers={"Authorization": f"Bearer {other_key}"},
        ).json()["task_id"]
        for after in ([theirs], [mine, 999999], [mine + theirs + 1]):
            response = client.post(
                "/api/pipelines",
                json={"urls": ["https://example.com/x"], "after": after},
            )
            assert response.status_code == 422, response.text
            error = response.json()["error"]
            assert error["code"] == "unknown_parent_task"
            assert mine not in error["details"]["unknown"]

    def test_parents_already_ended_start_at_once(
        self, client: TestClient, redis: Redis
    ) -> None:
        parent = submit(client, "https://example.com/p")
        client.delete(f"/api/parsing/async/cancel/{parent}")
        child = submit(
            client, "https://example.com/c", after=[parent], condition="finished"
        )
        assert status(client, child) == "queued"
        assert redis.llen("rq:queue:parsing") == 1


class TestCancellingAParent:
    def test_cancel_cascades_to_waiting_dependants(self, client: TestClient) -> None:
        a = submit(client, "https://example.com/a")
        b = submit(client, "https://example.com/b", after=[a])
        c = submit(client, "https://example.com/c", after=[b])
        body = client.delete(f"/api/parsing/async/cancel/{a}").json()
        assert body["cancelled_dependants"] == [b, c]
        assert [status(client, t) for t in (a, b, c)] == ["cancelled"] * 3

    def test_release_lets_dependants_start(self, client: TestClient) -> None:
        a = submit(client, "https://example.com/a")
        other = submit(client, "https://example.com/o")
        b = submit(client, "https://example.com/b", after=[a])
        c = submit(client, "https://example.com/c", after=[a, other])
        body = client.delete(
            f"/api/parsing/async/cancel/{a}", params={"dependants": "release"}
        ).json()
        assert body["released_dependants"] == [b, c]
        assert status(client, b) == "queued"  # waited only for A
        assert status(client, c) == "waiting"  # still waits for `other`

    def test_bad_dependants_mode_is_422(self, client: TestClient) -> None:
        a = submit(client, "https://example.com/a")
        response = client.delete(
            f"/api/parsing/async/cancel/{a}", params={"dependants": "ignore"}
        )
        assert response.status_code == 422
