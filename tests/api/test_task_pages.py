"""A task's items come a page at a time (a cursor), its event stream sends what changed, and neither
lets one tenant see another's items — on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from gleaner.db import session_scope
from gleaner.runtime import Runtime
from gleaner_api.taskevents import TaskEvents
from gleaner_api.taskviews import ItemPage
from tests.api.test_tasks import events, merged_items
from tests.conftest import RunWorker
from tests.factories import submit_task

COUNT = 250


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


def _all_pages(client: TestClient, task_id: int, **params: Any) -> list[dict[str, Any]]:
    pages, after = [], 0
    while True:
        answer = client.get(
            f"/api/tasks/{task_id}", params={**params, "items_after": after}
        )
        assert answer.status_code == 200, answer.text
        task = answer.json()["task"]
        pages.append(task)
        if task["items_next"] is None:
            return pages
        after = task["items_next"]


def _task(runtime: Runtime, owner: str, name: str, count: int = COUNT) -> int:
    urls = [f"https://example.org/{name}/{i}" for i in range(count)]
    return submit_task(runtime, urls=urls, owner=owner)


def test_items_come_a_bounded_page_at_a_time(
    client: TestClient, runtime: Runtime
) -> None:
    task_id = _task(runtime, "alice", "a")
    first = client.get(f"/api/tasks/{task_id}").json()["task"]
    assert len(first["items"]) == 100  # the default page, whatever the task's size
    assert first["items_next"] == first["items"][-1]["id"]

    pages = _all_pages(client, task_id, items_limit=60)
    assert [len(p["items"]) for p in pages] == [60, 60, 60, 60, 10]
    ids = [item["id"] for page in pages for item in page["items"]]
    assert ids == sorted(ids)
    assert len(set(ids)) == COUNT
    # queue places follow the pages: the items were enqueued in id order
    assert [i["position"] for p in pages for i in p["items"]] == list(range(COUNT))

    whole = client.get(f"/api/tasks/{task_id}", params={"items_limit": 1000})
    assert [i["id"] for i in whole.json()["task"]["items"]] == ids
    assert whole.json()["task"]["items_next"] is None
    bare = client.get(f"/api/tasks/{task_id}", params={"include_items": "false"})
    assert (bare.json()["task"]["items"], bare.json()["task"]["items_next"]) == (
        None,
        None,
    )


@pytest.mark.parametrize(
    "params",
    [
        {"items_limit": 0},
        {"items_limit": 1001},
        {"items_after": -1},
        {"items_after": 2**63},
    ],
)
def test_a_bad_cursor_is_422_naming_it(
    client: TestClient, runtime: Runtime, params: dict[str, int]
) -> None:
    task_id = _task(runtime, "alice", "a", 2)
    answer = client.get(f"/api/tasks/{task_id}", params=params)
    assert answer.status_code == 422, answer.text
    assert next(iter(params)) in answer.text


def test_the_cursor_never_reaches_another_tenants_items(
    client: TestClient, runtime: Runtime, other_key: str
) -> None:
    # bob's task first, alice's next: alice's item ids are all above bob's
    bobs = _task(runtime, "bob", "b", 30)
    alices = _task(runtime, "alice", "a", 30)
    as_bob = {"Authorization": f"Bearer {other_key}"}
    alice_ids = {
        i["id"] for p in _all_pages(client, alices, items_limit=7) for i in p["items"]
    }
    bob_pages = []
    after = 0
    while after is not None:
        answer = client.get(
            f"/api/tasks/{bobs}",
            params={"items_after": after, "items_limit": 7},
            headers=as_bob,
        )
        assert answer.status_code == 200, answer.text
        bob_pages.append(answer.json()["task"])
        after = bob_pages[-1]["items_next"]
    bob_ids = {i["id"] for p in bob_pages for i in p["items"]}
    assert len(bob_ids) == 30
    assert not bob_ids & alice_ids
    # a cursor taken from alice's task, used on bob's, still gives only bob's (none above it)
    answer = client.get(
        f"/api/tasks/{bobs}", params={"items_after": min(alice_ids)}, headers=as_bob
    )
    assert answer.json()["task"]["items"] == []
    # and alice's task is not bob's to page through
    answer = client.get(
        f"/api/tasks/{alices}", params={"items_after": 0}, headers=as_bob
    )
    assert answer.status_code == 404
    events_answer = client.get(f"/api/tasks/{alices}/events", headers=as_bob)
    assert events_answer.status_code == 404


@pytest.mark.slow
def test_events_after_the_first_carry_only_what_changed(
    client: TestClient, runtime: Runtime, run_worker: RunWorker
) -> None:
    task_id = submit_task(
        runtime,
        urls=[f"https://example.org/ev/{i}" for i in range(COUNT)],
        owner="alice",
        job_path="tests.jobs.succeed",
    )
    stream = TaskEvents(task_id, include_items=True, page=ItemPage(0, 100))

    def next_event() -> dict[str, Any] | None:
        with session_scope(runtime.sessions) as session:
            return stream.next_event(session, runtime.redis, runtime.settings)

    first = next_event()
    assert first is not None
    assert first["delta"] is False
    assert len(first["items"]) == 100  # a first page, not every item
    assert first["items_next"] == first["items"][-1]["id"]
    assert next_event() is None  # nothing changed: nothing sent

    run_worker("parsing")
    delta = next_event()
    assert delta is not None
    assert delta["delta"] is True
    assert delta["completed_items"] == COUNT
    assert sorted(i["id"] for i in delta["items"]) == sorted(
        {i["id"] for i in delta["items"]}
    )
    assert len(delta["items"]) == COUNT
    assert {i["status"] for i in delta["items"]} == {"completed"}
    assert next_event() is None  # sent once, never again

    # over HTTP the stream of the finished task is one first page, then its end
    seen = events(client, task_id)
    assert [name for name, _ in seen] == ["progress", "end"]
    assert len(seen[0][1]["items"]) == 100
    assert all(i["status"] == "completed" for i in merged_items([seen[0][1]]).values())
