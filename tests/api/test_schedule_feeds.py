"""Feed schedules with real processes: a scheduler (`python -m gleaner_api schedule`, restarted and
doubled) and a parsing worker reading RSS 2.0 and Atom feeds from a local server that gains entries
between firings — each entry filed once, "no new entries" recorded without a task, a broken feed a
failed firing retried at the next tick — on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rq import Worker
from sqlalchemy import func, select, update

from gleaner.db import session_scope
from gleaner.feeds import FETCHED, FETCHING
from gleaner.models import FeedEntry, Link, Schedule, ScheduleFiring, TaskItem, utcnow
from gleaner.runtime import Runtime
from gleaner_api.samples import HtmlHandler, LocalServer
from tests.stack import Processes, article

FIRING_TIMEOUT_SECONDS = 60.0
"""A firing's fetch and task on a busy 2-core machine, once the processes run."""

START_TIMEOUT_SECONDS = 120.0
"""A process's imports and start-up, on that machine."""


class FeedServer(LocalServer):
    """/rss and /atom: the feeds of the names in `entries`; /broken: not a feed; /article/<name>."""

    def __init__(self) -> None:
        super().__init__(0, _FeedHandler)
        self.entries: list[str] = []
        self.broken = True


def rss(server: FeedServer) -> bytes:
    items = "".join(
        # the last one has no guid: its link is its key
        f"<item><title>{name}</title><link>{server.url('/article/' + name)}</link>"
        + (f'<guid isPermaLink="false">rss-{name}</guid>' if name != "nog" else "")
        + "</item>"
        for name in server.entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>News</title>'
        f"<link>{server.url('/')}</link><description>d</description>{items}</channel></rss>"
    ).encode()


def atom(server: FeedServer) -> bytes:
    entries = "".join(
        f"<entry><title>{name}</title><id>urn:atom:{name}</id>"
        f'<link href="{server.url("/article/" + name)}"/>'
        "<updated>2026-01-01T00:00:00Z</updated></entry>"
        for name in server.entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>News</title><id>urn:atom:feed</id><updated>2026-01-01T00:00:00Z</updated>"
        f"{entries}</feed>"
    ).encode()


class _FeedHandler(HtmlHandler):
    server: FeedServer

    def do_GET(self) -> None:
        if self.path == "/rss":
            self.send_feed("application/rss+xml", rss(self.server))
        elif self.path == "/atom":
            self.send_feed("application/atom+xml", atom(self.server))
        elif self.path == "/broken":
            if self.server.broken:
                self.send_feed("application/xml", b"this is not a feed <<< at all")
            else:
                self.send_feed("application/rss+xml", rss(self.server))
        elif self.path.startswith("/article/"):
            self.answer(200, article(self.path.rsplit("/", 1)[1]))
        else:
            self.answer(404, b"<html><body>no</body></html>")

    def send_feed(self, content_type: str, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer().start()
    yield server
    server.shutdown()


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


@pytest.fixture
def test_env(
    test_env: dict[str, str], feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The feed server allowed for fetching (API check and workers alike)."""
    extra = {"GLEANER_FETCH_ALLOW_NETWORKS": f"127.0.0.1:{feed_server.port}"}
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    test_env.update(extra)
    return test_env


@pytest.fixture
def processes(test_env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(test_env, tmp_path)
    yield procs
    procs.stop_all(timeout=10)


def scheduler(processes: Processes) -> subprocess.Popen[bytes]:
    """A scheduler process, returned once it runs its loop (starts are slow on a busy machine)."""
    process = processes.start("-m", "gleaner_api", "schedule", name="scheduler")
    log = processes.logdir / f"scheduler-{len(processes.started) - 1}.log"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while "scheduler_starting" not in log.read_text(errors="replace"):
        assert process.poll() is None, processes.tail()
        assert time.monotonic() < deadline, processes.tail()
        time.sleep(0.1)
    return process


def parsing_worker(processes: Processes, runtime: Runtime) -> None:
    """A parsing worker, once registered in Redis."""
    process = processes.worker("parsing")
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not any(
        "parsing" in worker.queue_names()
        for worker in Worker.all(connection=runtime.redis)
    ):
        assert process.poll() is None, processes.tail()
        assert time.monotonic() < deadline, processes.tail()
        time.sleep(0.1)


def create_feed_schedule(client: TestClient, url: str) -> int:
    response = client.post(
        "/api/schedules",
        json={
            "name": url.rsplit("/", 1)[1],
            "interval_seconds": 3600,  # fires only when a test makes it due
            "feed_url": url,
            "pipeline": {"stages": ["parsing"]},
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["feed_url"] == url
    return int(response.json()["id"])


def make_due(runtime: Runtime, *schedule_ids: int) -> None:
    """As if their tick had come: the running schedulers fire them."""
    with session_scope(runtime.sessions) as session:
        session.execute(
            update(Schedule)
            .where(Schedule.id.in_(schedule_ids))
            .values(next_fire_at=utcnow() - timedelta(seconds=1))
        )


def firings(runtime: Runtime, schedule_id: int) -> list[ScheduleFiring]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(ScheduleFiring)
                .where(ScheduleFiring.schedule_id == schedule_id)
                .order_by(ScheduleFiring.id)
            )
        )


def wait_firings(
    runtime: Runtime, schedule_id: int, count: int, processes: Processes
) -> list[ScheduleFiring]:
    """Until the schedule has `count` firings, every one ended (created, no_new_entries or failed)."""
    deadline = time.monotonic() + FIRING_TIMEOUT_SECONDS
    while True:
        made = firings(runtime, schedule_id)
        ended = [f for f in made if f.outcome not in (FETCHING, FETCHED)]
        if len(ended) >= count and len(made) == len(ended):
            return made
        assert time.monotonic() < deadline, (
            f"schedule {schedule_id}: {[(f.outcome, f.error) for f in made]}\n"
            + processes.tail()
        )
        time.sleep(0.2)


def links_of(runtime: Runtime, task_id: int | None) -> list[str]:
    with runtime.sessions() as session:
        return sorted(
            session.scalars(
                select(Link.url)
                .join(TaskItem, TaskItem.link_id == Link.id)
                .where(TaskItem.task_id == task_id)
            )
        )


@pytest.mark.slow
class TestFeedSchedules:
    def test_only_new_entries_become_a_task_across_restarts(
        self,
        client: TestClient,
        runtime: Runtime,
        feed_server: FeedServer,
        processes: Processes,
    ) -> None:
        feed_server.entries = ["a", "b", "nog"]
        ids = {
            kind: create_feed_schedule(client, feed_server.url(f"/{kind}"))
            for kind in ("rss", "atom")
        }
        parsing_worker(processes, runtime)
        first = scheduler(processes)
        url = feed_server.url
        expected = {
            "rss": [url("/article/a"), url("/article/b"), url("/article/nog")],
            "atom": [url("/article/a"), url("/article/b"), url("/article/nog")],
        }

        make_due(runtime, *ids.values())
        for kind, schedule_id in ids.items():
            [made] = wait_firings(runtime, schedule_id, 1, processes)
            assert (made.outcome, made.new_entries) == ("created", 3), made.error
            assert links_of(runtime, made.task_id) == sorted(expected[kind])

        # nothing new: the outcome is recorded and no task is made
        make_due(runtime, *ids.values())
        for schedule_id in ids.values():
            latest = wait_firings(runtime, schedule_id, 2, processes)[-1]
            assert (latest.outcome, latest.task_id) == ("no_new_entries", None)
            shown = client.get(f"/api/schedules/{schedule_id}").json()
            assert shown["last_outcome"] == "no_new_entries"

        # the feed gains an entry: only it becomes the next task
        feed_server.entries = ["c", *feed_server.entries]
        make_due(runtime, *ids.values())
        for schedule_id in ids.values():
            latest = wait_firings(runtime, schedule_id, 3, processes)[-1]
            assert (latest.outcome, latest.new_entries) == ("created", 1)
            assert links_of(runtime, latest.task_id) == [url("/article/c")]

        # a restarted scheduler (and worker) files nothing again
        processes.kill(first)
        scheduler(processes)
        make_due(runtime, *ids.values())
        for schedule_id in ids.values():
            latest = wait_firings(runtime, schedule_id, 4, processes)[-1]
            assert latest.outcome == "no_new_entries"
        with runtime.sessions() as session:
            filed = session.scalar(select(func.count()).select_from(FeedEntry))
        assert filed == 8  # a, b, nog, c in each feed, once
        metrics = client.get("/metrics").text
        assert 'gleaner_schedule_firings_total{outcome="no_new_entries"} 4.0' in metrics
        assert 'gleaner_schedule_firings_total{outcome="created"} 4.0' in metrics

    def test_two_schedulers_racing_file_each_entry_once(
        self,
        client: TestClient,
        runtime: Runtime,
        feed_server: FeedServer,
        processes: Processes,
    ) -> None:
        feed_server.entries = ["r0"]
        schedule_id = create_feed_schedule(client, feed_server.url("/rss"))
        parsing_worker(processes, runtime)
        scheduler(processes)
        scheduler(processes)
        for round_ in range(1, 4):
            make_due(runtime, schedule_id)
            wait_firings(runtime, schedule_id, round_, processes)
            feed_server.entries = [f"r{round_}", *feed_server.entries]
        time.sleep(1.5)  # a second firing of a tick, if any, would show now
        made = firings(runtime, schedule_id)
        assert [f.outcome for f in made] == ["created"] * 3
        assert len({f.tick_at for f in made}) == 3
        every_link = [link for f in made for link in links_of(runtime, f.task_id)]
        assert sorted(every_link) == sorted(
            feed_server.url(f"/article/r{n}") for n in range(3)
        )

    def test_a_broken_feed_fails_and_is_read_again_at_the_next_tick(
        self,
        client: TestClient,
        runtime: Runtime,
        feed_server: FeedServer,
        processes: Processes,
    ) -> None:
        feed_server.entries = ["x"]
        broken = create_feed_schedule(client, feed_server.url("/broken"))
        missing = create_feed_schedule(client, feed_server.url("/gone"))
        parsing_worker(processes, runtime)
        scheduler(processes)
        make_due(runtime, broken, missing)
        [bad] = wait_firings(runtime, broken, 1, processes)
        assert bad.outcome == "failed"
        assert str(bad.error).startswith("feed_invalid:")
        [gone] = wait_firings(runtime, missing, 1, processes)
        assert gone.outcome == "failed"
        assert str(gone.error).startswith("http_404:")
        shown = client.get(f"/api/schedules/{broken}").json()
        assert (shown["last_outcome"], shown["last_error"]) == ("failed", bad.error)
        # the feed is repaired: the next tick reads it
        feed_server.broken = False
        make_due(runtime, broken)
        latest = wait_firings(runtime, broken, 2, processes)[-1]
        assert (latest.outcome, latest.new_entries) == ("created", 1)
        metrics = client.get("/metrics").text
        assert 'gleaner_schedule_firings_total{outcome="failed"} 2.0' in metrics


class TestFeedApi:
    def test_bad_feed_schedules_are_422(
        self, client: TestClient, feed_server: FeedServer
    ) -> None:
        base: dict[str, object] = {
            "name": "f",
            "interval_seconds": 3600,
            "pipeline": {"stages": ["parsing"]},
        }
        cases: list[tuple[dict[str, object], str]] = [
            ({"feed_url": "http://10.1.2.3/feed.xml"}, "invalid_feed_url"),
            ({"feed_url": "ftp://example.org/feed.xml"}, "invalid_feed_url"),
            (
                {
                    "feed_url": feed_server.url("/rss"),
                    "pipeline": {"urls": ["https://example.org/a"]},
                },
                "invalid_schedule",
            ),
        ]
        for fields, code in cases:
            response = client.post("/api/schedules", json={**base, **fields})
            assert response.status_code == 422, response.text
            assert response.json()["error"]["code"] == code
        assert "feed_url" in str(
            client.get("/openapi.json").json()["components"]["schemas"][
                "ScheduleCreate"
            ]
        )

    def test_run_now_answers_fetching(
        self, client: TestClient, feed_server: FeedServer
    ) -> None:
        schedule_id = create_feed_schedule(client, feed_server.url("/rss"))
        firing = client.post(f"/api/schedules/{schedule_id}/run")
        assert firing.status_code == 202
        assert (firing.json()["outcome"], firing.json()["task_id"]) == (
            "fetching",
            None,
        )
        shown = client.get(f"/api/schedules/{schedule_id}").json()
        assert shown["last_outcome"] == "fetching"
