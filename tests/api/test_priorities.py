"""Priority lanes and retry strategies as the API shows them."""

from __future__ import annotations

from fastapi.testclient import TestClient
from redis import Redis

from gleaner.metrics import read_queue_depths


class TestLanesInTheApi:
    def test_low_priority_queues_behind_the_others(
        self, client: TestClient, redis: Redis
    ) -> None:
        client.post("/api/pipelines", json={"urls": ["https://example.com/n"]})
        client.post(
            "/api/pipelines",
            json={"urls": ["https://example.com/h"], "priority": "high"},
        )
        low = client.post(
            "/api/pipelines",
            json={
                "urls": ["https://example.com/l1", "https://example.com/l2"],
                "priority": "low",
            },
        ).json()
        assert redis.llen("rq:queue:parsing-low") == 2
        task = client.get(f"/api/tasks/{low['task_id']}").json()["task"]
        assert [item["position"] for item in task["items"]] == [2, 3]

    def test_unknown_priority_is_422(self, client: TestClient) -> None:
        response = client.post(
            "/api/pipelines",
            json={"urls": ["https://example.com/x"], "priority": "urgent"},
        )
        assert response.status_code == 422
        assert "priority" in response.text

    def test_monitoring_lists_every_lane(self, operator: TestClient) -> None:
        body = operator.get("/api/monitoring/queues").json()
        assert set(body["queues"]) == {
            f"{stage}{suffix}"
            for stage in ("parsing", "ai", "notion")
            for suffix in ("-high", "", "-low")
        }
        assert body["queues"]["ai-low"]["priority"] == "low"
        assert body["low_lane_every"] == 10

    def test_queue_depth_counts_the_low_lane(
        self, client: TestClient, redis: Redis
    ) -> None:
        client.post(
            "/api/pipelines",
            json={
                "urls": ["https://example.com/a", "https://example.com/b"],
                "priority": "low",
            },
        )
        client.post("/api/pipelines", json={"urls": ["https://example.com/c"]})
        depth = read_queue_depths(redis)["parsing"]
        assert (depth.waiting, depth.backlog) == (3, 3)
        assert depth.oldest_age_seconds >= 0


class TestRetryStrategiesShown:
    def test_defaults_are_the_first_versions(self, operator: TestClient) -> None:
        strategies = operator.get("/api/monitoring/queues").json()["retry_strategies"]
        assert set(strategies) == {"parsing", "ai", "notion"}
        assert strategies["parsing"] == {
            "max_attempts": 3,
            "backoff": "fixed",
            "delays_seconds": [0],  # the tests' environment: immediate retries
            "retry_on": "all retryable errors",
        }
