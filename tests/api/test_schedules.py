"""Schedules: the API, firing exactly once per tick across replicas (one killed again and again
mid-tick), a missed firing run once, and the metrics — on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from gleaner.db import make_engine, session_scope
from gleaner.models import ProcessingTask, Schedule, ScheduleFiring, utcnow
from gleaner.runtime import Runtime
from gleaner_api.scheduler import fire_due
from tests.conftest import ROOT
from tests.servers import stop_process

PIPELINE = {"urls": ["https://example.com/feed-page"], "stages": ["parsing"]}


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


@pytest.fixture
def short_intervals(test_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    test_env["GLEANER_SCHEDULE_MIN_INTERVAL_SECONDS"] = "1"
    monkeypatch.setenv("GLEANER_SCHEDULE_MIN_INTERVAL_SECONDS", "1")


def create(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post(
        "/api/schedules", json={"name": "news", "pipeline": PIPELINE, **fields}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


class TestApi:
    def test_cron_in_a_time_zone(self, client: TestClient) -> None:
        body = create(client, cron="30 7 * * *", timezone="Europe/Paris")
        local = when(body["next_fire_at"]).astimezone(ZoneInfo("Europe/Paris"))
        assert (local.hour, local.minute) == (7, 30)
        assert 0 < (when(body["next_fire_at"]) - utcnow()).total_seconds() <= 86400
        assert body["last_outcome"] is None

    @pytest.mark.parametrize(
        ("fields", "code"),
        [
            ({"cron": "61 * * * *"}, "invalid_cron"),
            ({"cron": "* * * *"}, "invalid_cron"),
            ({"cron": "0 7 * * *", "timezone": "Mars/Olympus"}, "invalid_timezone"),
            ({"cron": "0 7 * * *", "interval_seconds": 3600}, "invalid_schedule"),
            ({}, "invalid_schedule"),
            ({"interval_seconds": 5}, "invalid_schedule"),  # below the 60 s minimum
            (
                {"cron": "* * * * *", "pipeline": {**PIPELINE, "after": [1]}},
                "invalid_schedule",
            ),
            ({"cron": "* * * * *", "pipeline": {"urls": ["ftp://x"]}}, "invalid_url"),
        ],
    )
    def test_bad_timing_or_pipeline_is_422(
        self, client: TestClient, fields: dict[str, Any], code: str
    ) -> None:
        response = client.post(
            "/api/schedules", json={"name": "x", "pipeline": PIPELINE, **fields}
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == code

    def test_pause_resume_run_now_delete(
        self, client: TestClient, other_key: str
    ) -> None:
        schedule = create(client, interval_seconds=3600)
        url = f"/api/schedules/{schedule['id']}"
        paused = client.post(f"{url}/pause").json()
        assert (paused["paused"], paused["next_fire_at"]) == (True, None)
        firing = client.post(f"{url}/run")
        assert firing.status_code == 202
        assert firing.json()["outcome"] == "created"
        task = client.get(f"/api/tasks/{firing.json()['task_id']}").json()["task"]
        assert task["status"] == "queued"
        shown = client.get(url).json()
        assert shown["last_task_id"] == task["id"]
        assert [f["manual"] for f in shown["firings"]] == [True]
        resumed = client.post(f"{url}/resume").json()
        assert resumed["paused"] is False
        assert when(resumed["next_fire_at"]) > utcnow() + timedelta(minutes=59)
        theirs = {"Authorization": f"Bearer {other_key}"}
        assert client.get(url, headers=theirs).status_code == 404
        assert client.delete(url, headers=theirs).status_code == 404
        assert client.get("/api/schedules", headers=theirs).json()["total"] == 0
        assert client.delete(url).status_code == 204
        assert client.get(url).json()["error"]["code"] == "schedule_not_found"

    def test_openapi_documents_the_endpoints(self, client: TestClient) -> None:
        paths = client.get("/openapi.json").json()["paths"]
        create_op = paths["/api/schedules"]["post"]
        assert {"201", "404", "422", "503"} <= set(create_op["responses"])
        assert "/api/schedules/{schedule_id}/run" in paths


class TestFiring:
    def test_a_missed_firing_runs_once(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        schedule = create(client, interval_seconds=3600)
        # every scheduler was down for ten hours: ten ticks missed
        with session_scope(runtime.sessions) as session:
            session.execute(
                update(Schedule)
                .where(Schedule.id == schedule["id"])
                .values(next_fire_at=utcnow() - timedelta(hours=10))
            )
        fired = fire_due(runtime)
        assert [f.outcome for f in fired] == ["created"]
        assert fire_due(runtime) == []  # and not again
        after = client.get(f"/api/schedules/{schedule['id']}").json()
        assert when(after["next_fire_at"]) > utcnow() + timedelta(minutes=59)
        assert after["last_outcome"] == "created"
        metrics = client.get("/metrics").text
        assert 'gleaner_schedule_firings_total{outcome="created"} 1.0' in metrics
        assert "gleaner_schedule_next_firing_lag_seconds 0.0" in metrics

    def test_a_firing_that_cannot_make_its_task_is_recorded(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        link = client.post("/api/links", json={"url": "https://example.com/l"}).json()
        schedule = create(
            client,
            interval_seconds=3600,
            pipeline={"link_ids": [link["links"][0]["id"]], "stages": ["parsing"]},
        )
        with session_scope(runtime.sessions) as session:
            session.execute(
                update(Schedule)
                .where(Schedule.id == schedule["id"])
                .values(
                    next_fire_at=utcnow() - timedelta(seconds=1),
                    pipeline={"link_ids": [987654], "stages": ["parsing"]},
                )
            )
        [fired] = fire_due(runtime)
        assert fired.outcome == "failed"
        shown = client.get(f"/api/schedules/{schedule['id']}").json()
        assert shown["last_outcome"] == "failed"
        assert "987654" in shown["last_error"]
        assert when(shown["next_fire_at"]) > utcnow()


@pytest.mark.slow
@pytest.mark.usefixtures("short_intervals")
class TestReplicas:
    def test_two_replicas_one_killed_mid_tick_fire_each_tick_once(
        self,
        client: TestClient,
        runtime: Runtime,
        test_env: dict[str, str],
        tmp_path: Path,
    ) -> None:
        schedule = create(client, interval_seconds=1)
        kills = 0
        env = {**os.environ, **test_env, "PYTHONPATH": str(ROOT)}

        def replica(name: str) -> subprocess.Popen[bytes]:
            log = open(tmp_path / f"{name}.log", "ab")
            command = [sys.executable, "-m", "gleaner_api", "schedule"]
            return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)

        steady = replica("steady")
        victim = replica("victim")
        try:
            for pause in (0.2, 0.5, 0.9, 0.35):
                wait_for_log(tmp_path / "victim.log", "scheduler_starting", kills=kills)
                time.sleep(pause)  # somewhere in its loop: maybe mid-tick
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                kills += 1
                victim = replica("victim")
            time.sleep(2)
        finally:
            stop_process(victim)
            stop_process(steady)
        with session_scope(runtime.sessions) as session:
            firings = list(
                session.scalars(
                    select(ScheduleFiring).where(
                        ScheduleFiring.schedule_id == schedule["id"]
                    )
                )
            )
            tasks = list(session.scalars(select(ProcessingTask)))
        made = [t for t in tasks if t.config.get("schedule_id") == schedule["id"]]
        assert len(firings) >= 3, "the schedule hardly fired"
        assert all(f.outcome == "created" for f in firings)
        # each tick once, and no task made by a firing that did not commit (or twice)
        assert len({f.tick_at for f in firings}) == len(firings)
        assert sorted(f.task_id or 0 for f in firings) == sorted(t.id for t in made)
        ticks = sorted(f.tick_at for f in firings)
        assert all(b > a for a, b in zip(ticks, ticks[1:], strict=False))


def wait_for_log(path: Path, text: str, kills: int, timeout: float = 60.0) -> None:
    """Until the log has `text` once more than `kills` times (each start writes it once)."""
    deadline = time.monotonic() + timeout
    while path.read_text(errors="replace").count(text) <= kills:
        assert time.monotonic() < deadline, f"{path.name}: no {text!r} in time"
        time.sleep(0.1)


def test_run_now_while_another_process_writes(
    client: TestClient, runtime: Runtime
) -> None:
    """Run-now under concurrent writes (workers saving results) answers 202, never 503.

    On SQLite the firing's savepoint opened a deferred transaction whose reads pinned a snapshot; a
    write committed by another connection in between made its first INSERT fail at once with "database
    is locked" (no busy wait for a stale snapshot), which the API answered as 503 database_unavailable.
    """
    schedule = create(client, interval_seconds=3600)
    stop = threading.Event()

    def write_constantly() -> None:
        engine = make_engine(runtime.settings.database_url)
        while not stop.is_set():
            with engine.begin() as conn:
                conn.execute(
                    update(Schedule)
                    .where(Schedule.id == schedule["id"])
                    .values(updated_at=utcnow())
                )
        engine.dispose()

    writer = threading.Thread(target=write_constantly)
    writer.start()
    try:
        statuses = [
            client.post(f"/api/schedules/{schedule['id']}/run").status_code
            for _ in range(30)
        ]
    finally:
        stop.set()
        writer.join()
    assert set(statuses) == {202}, statuses
