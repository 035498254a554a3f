"""The notion job, run in this process against the local Notion API: pages, limits, idempotency, dry run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from gleaner.db import session_scope
from gleaner.execution import JobFailed
from gleaner.models import NotionImport, TaskItem
from gleaner.runtime import Runtime, set_current
from gleaner.settings import Settings
from gleaner_notion.jobs import import_item
from tests.factories import get_task
from tests.notion.factories import create_ai_contents, submit_notion_task
from tests.notion.notion_server import Database, Fault, NotionServer


def items_of(runtime: Runtime, task_id: int) -> list[TaskItem]:
    return list(get_task(runtime, task_id).items)


def run_items(runtime: Runtime, task_id: int, rounds: int = 3) -> list[TaskItem]:
    """Run every queued item of the task, as often as retries requeue it (at most `rounds` times)."""
    for _ in range(rounds):
        queued = [
            item.id for item in items_of(runtime, task_id) if item.status == "queued"
        ]
        if not queued:
            break
        for item_id in queued:
            try:
                import_item(item_id)
            except JobFailed:
                pass  # recorded on the item; RQ would file the job as failed
    return items_of(runtime, task_id)


def notion_import(runtime: Runtime, import_id: int | None) -> NotionImport:
    assert import_id is not None
    with session_scope(runtime.sessions) as session:
        return session.get_one(NotionImport, import_id)


def text_of(block: dict[str, Any]) -> str:
    kind = block["type"]
    return "".join(item["text"]["content"] for item in block[kind]["rich_text"])


class TestFiling:
    def test_files_one_page_with_properties_and_blocks(
        self, runtime: Runtime, notion_server: NotionServer, notion_database: Database
    ) -> None:
        ai_ids = create_ai_contents(
            runtime, ["https://example.com/post"], keywords=["python", "rate, limits"]
        )
        task_id = submit_notion_task(
            runtime,
            ai_ids,
            notion_database.id,
            properties={"Tags": {"multi_select": [{"name": "Important"}]}},
        )
        [item] = run_items(runtime, task_id)
        assert item.status == "completed", item.error_message
        record = notion_import(runtime, item.notion_import_id)
        assert record.state == "created"
        assert item.result_data["notion"]["page_id"] == record.page_id
        page = notion_server.state.pages[str(record.page_id)]
        assert page["properties"]["Source URL"] == {"url": "https://example.com/post"}
        assert page["properties"]["Keywords"]["multi_select"] == [
            {"name": "python"},
            {"name": "rate limits"},
        ]
        assert page["properties"]["Tags"]["multi_select"] == [{"name": "Important"}]
        assert page["properties"]["Published"] == {"date": {"start": "2026-11-02"}}
        blocks = notion_server.blocks_of(str(record.page_id))
        assert [text_of(b) for b in blocks if b["type"] == "heading_2"] == [
            "Summary",
            "Key insights",
            "Keywords",
            "Source",
        ]
        assert blocks[-1]["paragraph"]["rich_text"][0]["text"]["link"] == {
            "url": "https://example.com/post"
        }
        assert notion_server.pages_by_url() == {"https://example.com/post": 1}

    def test_long_and_odd_content_is_filed_whole(
        self, runtime: Runtime, notion_server: NotionServer, notion_database: Database
    ) -> None:
        summary = ("Grüße 👩‍👩‍👧 naïve café — ✓ " * 400)[:10_000]
        insights = [f"Insight {n} 🚀 " + "x" * (n * 10) for n in range(300)]
        keywords = [f"kw{n}, with comma" for n in range(150)]
        ai_ids = create_ai_contents(
            runtime,
            ["https://example.com/long"],
            title="🦀" * 1500,
            summary=summary,
            insights=insights,
            keywords=keywords,
        )
        [item] = run_items(
            runtime, submit_notion_task(runtime, ai_ids, notion_database.id)
        )
        assert item.status == "completed", item.error_message
        page_id = str(notion_import(runtime, item.notion_import_id).page_id)
        blocks = notion_server.blocks_of(page_id)
        bullets = [text_of(b) for b in blocks if b["type"] == "bulleted_list_item"]
        assert bullets == [insight.strip() for insight in insights]
        summary_blocks = blocks[
            1 : blocks.index(next(b for b in blocks if text_of(b) == "Key insights"))
        ]
        assert "".join(text_of(b) for b in summary_blocks) == summary.strip()
        # 1 create + 3 appends: 300 bullets and the other blocks, ≤ 100 per request.
        assert notion_server.state.requests["POST pages"] == 1
        assert notion_server.state.requests["PATCH blocks"] == 3
        page = notion_server.state.pages[page_id]
        assert len(page["properties"]["Keywords"]["multi_select"]) == 100

    def test_same_url_in_two_tasks_is_one_page(
        self, runtime: Runtime, notion_server: NotionServer, notion_database: Database
    ) -> None:
        [first] = create_ai_contents(runtime, ["https://example.com/same"])
        [item_a] = run_items(
            runtime, submit_notion_task(runtime, [first], notion_database.id)
        )
        [item_b] = run_items(
            runtime, submit_notion_task(runtime, [first], notion_database.id)
        )
        assert item_a.status == item_b.status == "completed"
        assert item_a.notion_import_id == item_b.notion_import_id
        assert notion_server.pages_by_url() == {"https://example.com/same": 1}


class TestIdempotency:
    @pytest.mark.parametrize(
        ("status", "code"), [(500, "internal_server_error"), (504, "gateway_timeout")]
    )
    def test_create_that_failed_after_creating_is_found_not_repeated(
        self,
        runtime: Runtime,
        notion_server: NotionServer,
        notion_database: Database,
        status: int,
        code: str,
    ) -> None:
        notion_server.fail(Fault("POST", "/v1/pages", status, code, after_apply=True))
        ai_ids = create_ai_contents(
            runtime,
            ["https://example.com/once"],
            insights=[f"i{n}" for n in range(150)],
        )
        [item] = run_items(
            runtime, submit_notion_task(runtime, ai_ids, notion_database.id)
        )
        assert item.status == "completed", item.error_message
        assert item.attempts == 2
        assert notion_server.pages_by_url() == {"https://example.com/once": 1}
        assert notion_server.state.requests["POST pages"] == 1
        assert (
            notion_server.state.requests["POST data_sources"] == 1
        )  # the look-up before creating again
        record = notion_import(runtime, item.notion_import_id)
        # The page was found and its remaining blocks appended.
        assert len(notion_server.blocks_of(str(record.page_id))) == 150 + 7

    def test_create_that_failed_before_creating_is_sent_again(
        self, runtime: Runtime, notion_server: NotionServer, notion_database: Database
    ) -> None:
        notion_server.fail(Fault("POST", "/v1/pages", 503, "service_unavailable"))
        ai_ids = create_ai_contents(runtime, ["https://example.com/again"])
        [item] = run_items(
            runtime, submit_notion_task(runtime, ai_ids, notion_database.id)
        )
        assert item.status == "completed", item.error_message
        assert notion_server.pages_by_url() == {"https://example.com/again": 1}
        assert notion_server.state.requests["POST pages"] == 2

    def test_a_failed_append_resumes_without_a_second_page(
        self, runtime: Runtime, notion_server: NotionServer, notion_database: Database
    ) -> None:
        notion_server.fail(
            Fault(
                "PATCH",
                "/v1/blocks/.*/children",
                502,
                "bad_gateway",
                raw_body="<html>bad gateway</html>",
            )
        )
        ai_ids = create_ai_contents(
            runtime,
            ["https://example.com/append"],
            insights=[f"i{n}" for n in range(250)],
        )
        [item] = run_items(
            runtime, submit_notion_task(runtime, ai_ids, notion_database.id)
        )
        assert item.status == "completed", item.error_message
        record = notion_import(runtime, item.notion_import_id)
        assert notion_server.pages_by_url() == {"https://example.com/append": 1}
        assert (
            notion_server.state.requests["POST data_sources"] == 0
        )  # the page id was stored: no look-up
        assert len(notion_server.blocks_of(str(record.page_id))) == 250 + 7


class TestFailures:
    def test_forbidden_database_fails_the_item_with_notions_message(
        self, runtime: Runtime, notion_server: NotionServer, notion_database: Database
    ) -> None:
        notion_server.fail(Fault("POST", "/v1/pages", 403, "restricted_resource"))
        ai_ids = create_ai_contents(runtime, ["https://example.com/denied"])
        [item] = run_items(
            runtime, submit_notion_task(runtime, ai_ids, notion_database.id)
        )
        assert item.status == "failed"
        assert item.error_code == "notion_restricted_resource"
        assert "injected restricted_resource" in (item.error_message or "")
        assert item.attempts == 1

    def test_unknown_database_is_permanent(self, runtime: Runtime) -> None:
        ai_ids = create_ai_contents(runtime, ["https://example.com/nowhere"])
        [item] = run_items(
            runtime,
            submit_notion_task(runtime, ai_ids, "0" * 32),  # well-formed, unknown
        )
        assert item.status == "failed"
        assert item.error_code == "notion_object_not_found"

    @pytest.mark.parametrize(
        ("properties", "expected"),
        [
            (
                {"Colour": {"select": {"name": "red"}}},
                "'Colour' is not in the database",
            ),
            (
                {"Rating": {"select": {"name": "5"}}},
                "'Rating' is a number property, not select",
            ),
            ({"Source URL": {"url": "https://elsewhere.example"}}, "cannot be set"),
            ({"Rating": 5}, "expected one Notion property value"),
        ],
    )
    def test_bad_user_properties_fail_before_any_create(
        self,
        runtime: Runtime,
        notion_server: NotionServer,
        notion_database: Database,
        properties: dict[str, Any],
        expected: str,
    ) -> None:
        ai_ids = create_ai_contents(runtime, ["https://example.com/props"])
        [item] = run_items(
            runtime,
            submit_notion_task(
                runtime, ai_ids, notion_database.id, properties=properties
            ),
        )
        assert item.status == "failed"
        assert item.error_code == "notion_invalid_properties"
        assert expected in (item.error_message or "")
        assert notion_server.state.requests["POST pages"] == 0

    def test_wrong_value_inside_a_known_property_fails_before_notion_is_asked(
        self, runtime: Runtime, notion_server: NotionServer, notion_database: Database
    ) -> None:
        # gleaner.notion_rules knows Notion's rules, so the request Notion would refuse is never sent
        ai_ids = create_ai_contents(runtime, ["https://example.com/rating"])
        task_id = submit_notion_task(
            runtime,
            ai_ids,
            notion_database.id,
            properties={"Rating": {"number": "five"}},
        )
        [item] = run_items(runtime, task_id)
        assert item.status == "failed"
        assert item.error_code == "notion_invalid_properties"
        assert "must be a number" in (item.error_message or "")
        assert notion_server.state.requests["POST pages"] == 0
        assert notion_server.pages_by_url() == {}


def _import_id(runtime: Runtime) -> int:
    with session_scope(runtime.sessions) as session:
        return session.scalars(select(NotionImport.id)).one()


@pytest.fixture
def dry_runtime(settings: Settings) -> Iterator[Runtime]:
    """The same environment without a Notion token."""
    runtime = Runtime.start(settings.model_copy(update={"NOTION_TOKEN": None}))
    set_current(runtime)
    yield runtime
    set_current(None)
    runtime.close()


class TestDryRun:
    def test_stores_the_exact_requests_and_completes(
        self, dry_runtime: Runtime, notion_server: NotionServer
    ) -> None:
        ai_ids = create_ai_contents(
            dry_runtime,
            ["https://example.com/dry"],
            insights=[f"i{n}" for n in range(120)],
        )
        task_id = submit_notion_task(
            dry_runtime,
            ai_ids,
            "0123456789abcdef0123456789abcdef",
            properties={"Tags": {"multi_select": [{"name": "x"}]}},
        )
        [item] = run_items(dry_runtime, task_id)
        assert item.status == "completed", item.error_message
        record = notion_import(dry_runtime, item.notion_import_id)
        assert record.state == "dry_run"
        assert [(r["method"], r["path"]) for r in record.requests] == [
            ("POST", "pages"),
            ("PATCH", "blocks/{page_id}/children"),
        ]
        create = record.requests[0]["body"]
        assert create["parent"] == {
            "type": "data_source_id",
            "data_source_id": "{data_source_id}",
        }
        assert create["properties"]["Source URL"] == {"url": "https://example.com/dry"}
        assert (
            len(create["children"]) + len(record.requests[1]["body"]["children"])
            == 120 + 7
        )
        assert sum(notion_server.state.requests.values()) == 0  # nothing was sent
        assert item.result_data["notion"]["state"] == "dry_run"

    def test_the_stored_requests_are_accepted_by_notion(
        self,
        dry_runtime: Runtime,
        notion_server: NotionServer,
        notion_database: Database,
    ) -> None:
        """What the dry run shows is what a real run sends: replay it against the local Notion API."""
        ai_ids = create_ai_contents(
            dry_runtime,
            ["https://example.com/replay"],
            summary="🙂 " * 3000,
            insights=["a"] * 150,
        )
        [item] = run_items(
            dry_runtime, submit_notion_task(dry_runtime, ai_ids, notion_database.id)
        )
        requests = notion_import(dry_runtime, item.notion_import_id).requests
        import httpx

        headers = {
            "Authorization": f"Bearer {notion_server.state.token}",
            "Notion-Version": "2025-09-03",
        }
        page_id = ""
        for request in requests:
            path = request["path"].replace("{page_id}", page_id)
            body = request["body"]
            text = (
                httpx.Request("GET", "http://x", json=body)
                .content.decode()
                .replace("{data_source_id}", notion_database.data_source_id)
            )
            answer = httpx.request(
                request["method"],
                f"{notion_server.url}/v1/{path}",
                headers={**headers, "Content-Type": "application/json"},
                content=text,
                trust_env=False,
            )
            assert answer.status_code == 200, answer.text
            page_id = page_id or answer.json()["id"]
        assert len(notion_server.blocks_of(page_id)) == 150 + 7
