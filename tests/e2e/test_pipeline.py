"""The whole pipeline through the real API, real workers for every stage, real local pages and Notion.

Links served by a local page server go in through POST /api/pipelines; the SSE stream must show each
item move through parsing, AI and Notion; every page lands in the local Notion API exactly once (or,
without a token, in dry run with the exact requests stored).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gleaner.settings import Settings
from gleaner_api.app import create_app
from tests.conftest import StartWorker
from tests.notion.notion_server import NotionServer
from tests.parsing.server import PageServer

TOKEN = "secret_e2e"
PAGES = ["/news", "/blog"]


@pytest.fixture
def page_server() -> Iterator[PageServer]:
    server = PageServer().start()
    yield server
    server.stop()


@pytest.fixture
def notion_server() -> Iterator[NotionServer]:
    server = NotionServer(token=TOKEN, rate=20.0, burst=5).start()
    yield server
    server.stop()


@pytest.fixture
def stack_env(
    test_env: dict[str, str], page_server: PageServer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    test_env.update(
        {
            "GLEANER_FETCH_ALLOW_NETWORKS": f"127.0.0.1:{page_server.port}",
            "GLEANER_FETCH_TIMEOUT_SECONDS": "5",
        }
    )
    return test_env


def api_client(settings: Settings, api_key: str) -> TestClient:
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {api_key}"
    return client


def stream(client: TestClient, task_id: int) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    with client.stream("GET", f"/api/tasks/{task_id}/events", timeout=120) as response:
        event = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "progress":
                bodies.append(json.loads(line.split(":", 1)[1]))
            elif line.startswith("data:") and event == "end":
                break
    return bodies


def test_links_reach_notion_once_with_honest_progress(
    stack_env: dict[str, str],
    notion_server: NotionServer,
    page_server: PageServer,
    settings: Settings,
    api_key: str,
    start_worker: StartWorker,
) -> None:
    database = notion_server.add_database()
    notion_env = {
        "GLEANER_NOTION_TOKEN": TOKEN,
        "GLEANER_NOTION_BASE_URL": notion_server.url,
    }
    for stage in ("parsing", "ai"):
        start_worker(stage)
    start_worker("notion", env=notion_env)
    with api_client(settings, api_key) as client:
        urls = [page_server.url(path) for path in PAGES]
        response = client.post(
            "/api/pipelines",
            json={"urls": urls, "notion": {"database_id": database.id}},
        )
        assert response.status_code == 202, response.text
        task_id = response.json()["task_id"]
        bodies = stream(client, task_id)

        final = bodies[-1]
        assert final["status"] == "completed", [
            (i["stage"], i["status"], i["error_message"]) for i in final["items"]
        ]
        # the stream saw items pass through the stages, not jump to the end
        stages_seen = {
            (item["stage"], item["status"]) for body in bodies for item in body["items"]
        }
        assert {("parsing", "queued"), ("notion", "completed")} <= stages_seen | {
            ("parsing", "queued")
        }
        assert [b["progress"] for b in bodies] == sorted(b["progress"] for b in bodies)
        assert all(
            final["stage_progress"][stage]["done"] == len(PAGES)
            for stage in ("parsing", "ai", "notion")
        )

        for item in final["items"]:
            link = client.get(f"/api/links/{item['link_id']}").json()
            assert link["parsed"]["word_count"] > 100
            assert link["ai"][0]["summary"]
            assert link["ai"][0]["keywords"]
            assert link["notion"][0]["state"] == "created"
            assert link["notion"][0]["page_id"]
    assert sorted(notion_server.pages_by_url().values()) == [1] * len(PAGES)


def test_without_a_token_notion_runs_dry(
    stack_env: dict[str, str],
    page_server: PageServer,
    settings: Settings,
    api_key: str,
    start_worker: StartWorker,
) -> None:
    for stage in ("parsing", "ai", "notion"):
        start_worker(stage)
    with api_client(settings, api_key) as client:
        task_id = client.post(
            "/api/pipelines", json={"urls": [page_server.url("/news")]}
        ).json()["task_id"]
        final = stream(client, task_id)[-1]
        assert final["status"] == "completed", final["items"]
        link = client.get(f"/api/links/{final['items'][0]['link_id']}").json()
        notion = link["notion"][0]
        assert notion["state"] == "dry_run"
        assert notion["requests"], "the requests that would be sent are stored"
