"""A large batch is written in bulk and enqueued in one pipeline: every item has its row and its job,
duplicates within the batch are one item, and a batch that fails leaves no row and no job."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import func, select

from gleaner.db import session_scope
from gleaner.models import Link, ProcessingTask, TaskItem
from gleaner.runtime import Runtime

COUNT = 2_000


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


@pytest.fixture
def test_env(
    test_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    monkeypatch.setenv("GLEANER_MAX_BATCH_SIZE", str(2 * COUNT))
    return {**test_env, "GLEANER_MAX_BATCH_SIZE": str(2 * COUNT)}


def _counts(runtime: Runtime) -> tuple[int, int, int]:
    with session_scope(runtime.sessions) as session:
        return (
            session.scalar(select(func.count()).select_from(Link)) or 0,
            session.scalar(select(func.count()).select_from(ProcessingTask)) or 0,
            session.scalar(select(func.count()).select_from(TaskItem)) or 0,
        )


def test_a_large_batch_has_a_row_and_a_job_per_distinct_url(
    client: TestClient, runtime: Runtime, redis: Redis
) -> None:
    urls = [f"https://example.org/page/{i}" for i in range(COUNT)]
    # the same pages again, spelled differently: one item each, as before
    repeats = [f"HTTPS://Example.org/page/{i}#top" for i in range(0, COUNT, 10)]
    answer = client.post(
        "/api/pipelines", json={"urls": urls + repeats, "stages": ["parsing"]}
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["total_items"] == COUNT
    assert [link["url"] for link in body["links"]] == urls

    with session_scope(runtime.sessions) as session:
        items = session.execute(
            select(TaskItem.id, TaskItem.link_id, TaskItem.job_id, TaskItem.status)
            .where(TaskItem.task_id == body["task_id"])
            .order_by(TaskItem.id)
        ).all()
    assert [i.link_id for i in items] == [link["id"] for link in body["links"]]
    assert {i.status for i in items} == {"queued"}
    queued = Queue("parsing", connection=redis).job_ids
    assert queued == [i.job_id for i in items]
    job = Job.fetch(items[-1].job_id, connection=redis)
    assert job.args == (items[-1].id,)
    assert job.meta["task_id"] == body["task_id"]

    # a second batch over the same links gets new items with new ids, and no new link
    again = client.post(
        "/api/pipelines", json={"urls": urls[:5], "stages": ["parsing"]}
    )
    assert again.status_code == 202, again.text
    assert _counts(runtime) == (COUNT, 2, COUNT + 5)
    assert Queue("parsing", connection=redis).count == COUNT + 5


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({"urls": ["http://exa mple.org/"]}, 422),  # refused before anything is written
        ({"link_ids": [987654321]}, 404),  # refused after the links were written
    ],
)
def test_a_failing_batch_leaves_no_row_and_no_job(
    client: TestClient,
    runtime: Runtime,
    redis: Redis,
    extra: dict[str, list[object]],
    status: int,
) -> None:
    urls = [f"https://example.org/page/{i}" for i in range(COUNT)]
    body = {"stages": ["parsing"], **extra, "urls": urls + extra.get("urls", [])}
    answer = client.post("/api/pipelines", json=body)
    assert answer.status_code == status, answer.text
    assert _counts(runtime) == (0, 0, 0)
    assert redis.keys("rq:job:*") == []
