"""Eager mode (development only): jobs run inside the API process, before the request returns."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from gleaner.settings import Settings
from gleaner_api.app import create_app
from tests.parsing.server import PageServer


@pytest.fixture
def page_server() -> Iterator[PageServer]:
    server = PageServer().start()
    yield server
    server.stop()


def test_eager_pipeline_finishes_within_the_request(
    settings: Settings, api_key: str, page_server: PageServer
) -> None:
    eager = settings.model_copy(
        update={
            "EAGER": True,
            "FETCH_ALLOW_NETWORKS": [f"127.0.0.1:{page_server.port}"],
        }
    )
    with TestClient(create_app(eager), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {api_key}"
        response = client.post(
            "/api/pipelines",
            json={"urls": [page_server.url("/news"), page_server.url("/status/404")]},
        )
        assert response.status_code == 202, response.text
        task = client.get(f"/api/tasks/{response.json()['task_id']}").json()["task"]
    assert task["status"] == "partially_failed"
    news, missing = task["items"]
    assert (news["status"], news["stage"], news["notion_state"]) == (
        "completed",
        "notion",
        "dry_run",
    )
    assert (missing["status"], missing["error_code"]) == ("failed", "http_404")
