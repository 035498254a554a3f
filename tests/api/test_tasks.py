"""Pipelines, per-stage endpoints and task views, with a real Redis, SQL and worker processes."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi.testclient import TestClient
from redis import Redis

from gleaner.apikeys import create_api_key
from gleaner.db import session_scope
from gleaner.runtime import Runtime
from tests.conftest import RunWorker, StartWorker
from tests.factories import submit_task

DB1 = "0123456789abcdef0123456789abcdef"  # a Notion id


def events(
    client: TestClient, task_id: int, limit: int = 200
) -> list[tuple[str, dict[str, Any]]]:
    """Read the task's SSE stream until its `end` event."""
    seen: list[tuple[str, dict[str, Any]]] = []
    with client.stream("GET", f"/api/tasks/{task_id}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                seen.append((name, json.loads(line.split(":", 1)[1])))
                if name == "end" or len(seen) >= limit:
                    break
    return seen


def merged_items(bodies: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """A task's items as a client of its event stream knows them: each event's merged by id."""
    items: dict[int, dict[str, Any]] = {}
    for body in bodies:
        items.update({item["id"]: item for item in body["items"] or []})
    return items


class TestPipelines:
    def test_accepts_links_and_queues_them_in_order(
        self, client: TestClient, redis: Redis
    ) -> None:
        urls = [f"https://example.com/p/{i}" for i in range(3)]
        response = client.post("/api/pipelines", json={"urls": urls})
        assert response.status_code == 202, response.text
        body = response.json()
        assert (body["total_items"], body["status"]) == (3, "queued")
        assert body["stages"] == ["parsing", "ai", "notion"]
        task = client.get(f"/api/tasks/{body['task_id']}").json()["task"]
        assert [item["position"] for item in task["items"]] == [0, 1, 2]
        assert task["stage_progress"]["parsing"]["queued"] == 3
        assert task["stage_progress"]["ai"]["waiting"] == 3
        assert redis.llen("rq:queue:parsing") == 3

    def test_high_priority_goes_to_the_high_lane(
        self, client: TestClient, redis: Redis
    ) -> None:
        client.post("/api/pipelines", json={"urls": ["https://example.com/slow"]})
        body = client.post(
            "/api/pipelines",
            json={"urls": ["https://example.com/urgent"], "priority": "high"},
        ).json()
        assert redis.llen("rq:queue:parsing-high") == 1
        item = client.get(f"/api/tasks/{body['task_id']}").json()["task"]["items"][0]
        assert item["position"] == 0

    def test_link_ids_of_another_owner_are_404(
        self, client: TestClient, other_key: str
    ) -> None:
        mine = client.post(
            "/api/links", json={"url": "https://example.com/mine"}
        ).json()["links"][0]["id"]
        response = client.post(
            "/api/pipelines",
            json={"link_ids": [mine, 424242]},
            headers={"Authorization": f"Bearer {other_key}"},
        )
        assert response.status_code == 404
        assert response.json()["error"]["details"]["missing"] == [mine, 424242]

    def test_stages_must_be_a_prefix(self, client: TestClient) -> None:
        response = client.post(
            "/api/pipelines",
            json={"urls": ["https://example.com"], "stages": ["parsing", "notion"]},
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_stages"
        response = client.post(
            "/api/pipelines",
            json={"urls": ["https://example.com"], "stages": ["summarize"]},
        )
        assert response.status_code == 422

    def test_batch_over_the_limit_is_refused(
        self, client: TestClient, redis: Redis
    ) -> None:
        urls = [f"https://example.com/{i}" for i in range(10_001)]
        response = client.post("/api/pipelines", json={"urls": urls})
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "batch_too_large"
        assert redis.llen("rq:queue:parsing") == 0

    def test_empty_batch_is_refused(self, client: TestClient) -> None:
        response = client.post("/api/pipelines", json={"urls": []})
        assert response.json()["error"]["code"] == "empty_batch"

    def test_unknown_model_is_404(self, client: TestClient) -> None:
        response = client.post(
            "/api/pipelines", json={"urls": ["https://example.com"], "model_id": 999}
        )
        assert (response.status_code, response.json()["error"]["code"]) == (
            404,
            "model_not_found",
        )


class TestStageEndpoints:
    def test_parsing_batch_status_cancel_retry(
        self, client: TestClient, redis: Redis
    ) -> None:
        ids = [
            link["id"]
            for link in client.post(
                "/api/links",
                json={"urls": ["https://a.example/", "https://b.example/"]},
            ).json()["links"]
        ]
        queued = client.post("/api/parsing/async/batch", json={"link_ids": ids})
        assert queued.status_code == 202
        body = queued.json()
        assert set(body) >= {
            "success",
            "task_id",
            "job_id",
            "total_items",
            "status",
            "message",
        }
        task_id = body["task_id"]
        status = client.get(
            f"/api/parsing/async/status/{task_id}", params={"include_items": "true"}
        ).json()
        assert status["task"]["type"] == "parsing"
        assert {item["item_id"] for item in status["task"]["items"]} == set(ids)
        assert (
            client.get(f"/api/parsing/async/status/{task_id}").json()["task"]["items"]
            is None
        )

        cancelled = client.delete(f"/api/parsing/async/cancel/{task_id}").json()
        assert (cancelled["status"], cancelled["cancelled_items"]) == ("cancelled", 2)
        assert redis.llen("rq:queue:parsing") == 0
        retry = client.post(f"/api/parsing/async/retry/{task_id}")
        assert (retry.status_code, retry.json()["error"]["code"]) == (
            409,
            "task_cancelled",
        )

    def test_single_endpoints(self, client: TestClient) -> None:
        link_id = client.post(
            "/api/links", json={"url": "https://example.com/one"}
        ).json()["links"][0]["id"]
        body = client.post(f"/api/parsing/async/single/{link_id}").json()
        assert body["total_items"] == 1
        assert body["job_id"].startswith("parsing-")
        assert client.post("/api/parsing/async/single/999999").status_code == 404
        assert (
            client.post("/api/ai/async/single/999999").json()["error"]["code"]
            == "not_found"
        )
        assert (
            client.post(
                "/api/notion/async/single/999999", json={"database_id": DB1}
            ).status_code
            == 404
        )

    def test_ai_and_notion_batches_check_their_ids(self, client: TestClient) -> None:
        response = client.post(
            "/api/ai/async/batch", json={"parsed_content_ids": [1, 2]}
        )
        assert response.status_code == 404
        response = client.post(
            "/api/notion/async/batch",
            json={"ai_content_ids": [5], "database_id": DB1},
        )
        assert response.status_code == 404
        response = client.post("/api/ai/async/batch", json={"parsed_content_ids": "1"})
        assert response.status_code == 422

    def test_retry_with_nothing_failed_retries_nothing(
        self, client: TestClient
    ) -> None:
        task_id = client.post(
            "/api/pipelines", json={"urls": ["https://example.com/r"]}
        ).json()["task_id"]
        body = client.post(f"/api/ai/async/retry/{task_id}").json()
        assert body["retried_count"] == 0


class TestTaskViews:
    def test_list_filters_and_pages(self, client: TestClient) -> None:
        for i in range(3):
            client.post("/api/pipelines", json={"urls": [f"https://example.com/{i}"]})
        link = client.post("/api/links", json={"url": "https://example.com/p"}).json()[
            "links"
        ][0]["id"]
        client.post("/api/parsing/async/batch", json={"link_ids": [link]})
        page = client.get(
            "/api/tasks", params={"type": "pipeline", "page_size": 2}
        ).json()
        assert (page["total"], len(page["items"])) == (3, 2)
        assert client.get("/api/tasks", params={"type": "parsing"}).json()["total"] == 1
        assert (
            client.get("/api/tasks", params={"status": "completed"}).json()["total"]
            == 0
        )
        assert client.get("/api/tasks", params={"status": "bogus"}).status_code == 422

    def test_another_owners_task_is_404(
        self, client: TestClient, other_key: str
    ) -> None:
        task_id = client.post(
            "/api/pipelines", json={"urls": ["https://example.com/x"]}
        ).json()["task_id"]
        response = client.get(
            f"/api/tasks/{task_id}", headers={"Authorization": f"Bearer {other_key}"}
        )
        assert (response.status_code, response.json()["error"]["code"]) == (
            404,
            "task_not_found",
        )
        response = client.delete(
            f"/api/parsing/async/cancel/{task_id}",
            headers={"Authorization": f"Bearer {other_key}"},
        )
        assert response.status_code == 404

    def test_events_of_a_finished_task(self, client: TestClient) -> None:
        task_id = client.post(
            "/api/pipelines", json={"urls": ["https://example.com/e"]}
        ).json()["task_id"]
        client.delete(f"/api/parsing/async/cancel/{task_id}")
        seen = events(client, task_id)
        assert [name for name, _ in seen] == ["progress", "end"]
        assert [body["status"] for _, body in seen] == ["cancelled", "cancelled"]

    def test_events_follow_real_progress(
        self, client: TestClient, runtime: Runtime, start_worker: StartWorker
    ) -> None:
        urls = [f"https://example.com/ev/{i}" for i in range(20)]
        task_id = submit_task(
            runtime, urls=urls, owner="alice", job_path="tests.jobs.count_effect"
        )
        start_worker("parsing")
        seen = events(client, task_id)
        progress = [body["progress"] for name, body in seen if name == "progress"]
        assert progress == sorted(progress), "progress never goes back"
        assert seen[-1] == ("end", {"id": task_id, "status": "completed"})
        assert progress[-1] == 100
        bodies = [body for name, body in seen if name == "progress"]
        assert bodies[-1]["completed_items"] == 20
        # the first event has the items, later ones only those that changed: merged, all are done
        assert [body["delta"] for body in bodies] == [False] + [True] * (
            len(bodies) - 1
        )
        items = merged_items(bodies)
        assert len(items) == 20
        assert all(i["status"] == "completed" for i in items.values())


class TestMonitoring:
    def test_queues_and_workers(
        self, client: TestClient, start_worker: StartWorker, runtime: Runtime
    ) -> None:
        with session_scope(runtime.sessions) as session:
            _, key = create_api_key(session, "ops", "operator", operator=True)
        client.headers["Authorization"] = f"Bearer {key}"  # queues span every tenant
        client.post(
            "/api/pipelines",
            json={"urls": ["https://example.com/q"], "stages": ["parsing"]},
        )
        queues = client.get("/api/monitoring/queues").json()["queues"]
        assert queues["parsing"]["count"] == 1
        assert set(queues) == {
            f"{stage}{lane}"
            for stage in ("parsing", "ai", "notion")
            for lane in ("-high", "", "-low")
        }
        health = client.get("/api/monitoring/health")
        assert health.status_code == 503  # work waits and no worker listens
        assert health.json()["health"]["queues"]["parsing"] == {
            "healthy": False,
            "pending": 1,
            "workers": 0,
        }

        start_worker("ai")
        deadline = time.monotonic() + 20
        while client.get("/api/monitoring/workers").json()["total_workers"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        worker = client.get("/api/monitoring/workers").json()["workers"][0]
        assert worker["queues"] == ["ai-high", "ai", "ai-low"]
        assert worker["state"] in ("idle", "busy", "started")

    def test_statistics(
        self, client: TestClient, runtime: Runtime, run_worker: RunWorker
    ) -> None:
        submit_task(
            runtime,
            urls=["https://example.com/s1", "https://example.com/s2"],
            owner="alice",
            job_path="tests.jobs.succeed",
        )
        submit_task(
            runtime,
            urls=["https://example.com/s3"],
            owner="alice",
            job_path="tests.jobs.fail_permanently",
        )
        run_worker("parsing")
        stats = client.get("/api/monitoring/statistics").json()["statistics"]
        assert stats["total_tasks"] == 2
        assert (stats["completed_tasks"], stats["failed_tasks"]) == (1, 1)
        assert (stats["total_items_processed"], stats["total_items_failed"]) == (2, 1)
        assert stats["by_type"]["parsing"]["total"] == 2


class TestNotionProperties:
    def test_badly_shaped_properties_are_422(self, client: TestClient) -> None:
        response = client.post(
            "/api/pipelines",
            json={
                "urls": ["https://example.com/n"],
                "notion": {"database_id": DB1, "properties": {"Tags": ["x"]}},
            },
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_notion_properties"

    def test_properties_are_checked_against_a_cached_schema(
        self, client: TestClient, redis: Redis
    ) -> None:
        from gleaner.notion_schema import DatabaseSchema, store_schema

        store_schema(
            redis,
            DatabaseSchema(
                database_id=DB1,
                data_source_id="ds1",
                title_property="Name",
                properties={
                    "Name": "title",
                    "Tags": "multi_select",
                    "Source URL": "url",
                },
            ),
        )
        good = {"Tags": {"multi_select": [{"name": "Important"}]}}
        accepted = client.post(
            "/api/pipelines",
            json={
                "urls": ["https://example.com/g"],
                "notion": {"database_id": DB1, "properties": good},
            },
        )
        assert accepted.status_code == 202, accepted.text
        unknown = client.post(
            "/api/pipelines",
            json={
                "urls": ["https://example.com/u"],
                "notion": {"database_id": DB1, "properties": {"Tagz": good["Tags"]}},
            },
        )
        assert unknown.status_code == 422
        assert "not in the database" in unknown.json()["error"]["message"]
        wrong_type = client.post(
            "/api/notion/async/batch",
            json={
                "ai_content_ids": [1],
                "database_id": DB1,
                "properties": {"Tags": {"select": {"name": "x"}}},
            },
        )
        assert wrong_type.status_code == 422
        assert (
            "multi_select property, not select" in wrong_type.json()["error"]["message"]
        )
