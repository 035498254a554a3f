"""Probes, and honest 503s when Redis or the database cannot be reached."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from gleaner.settings import Settings
from gleaner_api.app import create_app
from tests.servers import free_port


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_metrics_are_exposed(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "gleaner_" in response.text


@pytest.fixture
def redis_down_client(settings: Settings, api_key: str) -> Iterator[TestClient]:
    broken = settings.model_copy(
        update={"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    )
    with TestClient(create_app(broken), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {api_key}"
        yield test_client


def test_redis_down_is_503_json(redis_down_client: TestClient) -> None:
    ready = redis_down_client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["error"]["details"]["redis"].startswith("unavailable")
    response = redis_down_client.post(
        "/api/pipelines", json={"urls": ["https://example.com/"]}
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "redis_unavailable"
    # nothing was written: the request was refused before the task existed
    assert redis_down_client.get("/api/tasks").json()["total"] == 0
    assert (
        redis_down_client.get("/api/links").status_code == 200
    )  # SQL-only reads keep working
    health = redis_down_client.get("/api/monitoring/health")
    assert (health.status_code, health.json()["health"]["redis"]) == (
        503,
        "disconnected",
    )


def test_database_down_is_503_json(settings: Settings, api_key: str) -> None:
    broken = settings.model_copy(
        update={
            "DATABASE_URL": f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"
        }
    )
    with TestClient(create_app(broken), raise_server_exceptions=False) as test_client:
        assert test_client.get("/readyz").status_code == 503
        response = test_client.get(
            "/api/links", headers={"Authorization": f"Bearer {api_key}"}
        )
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "database_unavailable"
        assert "Traceback" not in response.text


def test_health_figures_are_for_operators_only(
    client: TestClient, operator: TestClient
) -> None:
    """Jobs waiting and workers span every tenant: a tenant sees only whether each stage is healthy."""
    tenant = client.get("/api/monitoring/health").json()["health"]
    assert tenant["workers"] is None
    assert tenant["redis_version"] is None
    assert {q["pending"] for q in tenant["queues"].values()} == {None}
    assert {q["workers"] for q in tenant["queues"].values()} == {None}
    assert {q["healthy"] for q in tenant["queues"].values()} == {True}
    figures = operator.get("/api/monitoring/health").json()["health"]
    assert figures["workers"]["total"] == 0
    assert figures["redis_version"]
    assert {q["pending"] for q in figures["queues"].values()} == {0}
