"""The official `notion-client` against the local Notion API: if our server and Notion disagreed on
anything this client relies on (pagination, object shapes, error codes), these calls would fail.

No Gleaner code runs here: the client is Notion's own, so the server is checked from outside.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from notion_client import APIErrorCode, APIResponseError, Client
from notion_client.helpers import collect_paginated_api

from tests.notion.notion_server import Database, NotionServer

TOKEN = "secret_official_client"


@pytest.fixture
def server() -> Iterator[NotionServer]:
    started = NotionServer(token=TOKEN, rate=200.0, burst=200).start()
    yield started
    started.stop()


def client_for(server: NotionServer, token: str = TOKEN) -> Any:
    # Any: notion-client types every call as "a result or an awaitable" (one signature for both clients)
    return Client(auth=token, base_url=server.url, retry=False, timeout_ms=10_000)


def paragraph(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "paragraph",
        "paragraph": {
            "rich_text": [{"type": "text", "text": {"content": text}}],
            **extra,
        },
    }


def create_page(
    notion: Client, database: Database, url: str, children: list[Any]
) -> Any:
    return notion.pages.create(
        parent={"type": "data_source_id", "data_source_id": database.data_source_id},
        properties={
            "Name": {"title": [{"text": {"content": f"Page {url}"}}]},
            "Source URL": {"url": url},
            "Tags": {"multi_select": [{"name": "a"}]},
        },
        children=children,
    )


def test_create_append_and_list_children_page_by_page(server: NotionServer) -> None:
    notion = client_for(server)
    database = server.add_database()
    page = create_page(
        notion,
        database,
        "https://example.com/p",
        [paragraph(f"b{n}") for n in range(100)],
    )
    assert (page["object"], page["parent"]["data_source_id"]) == (
        "page",
        database.data_source_id,
    )
    title = page["properties"]["Name"]
    assert title["type"] == "title"
    assert title["title"][0]["plain_text"] == "Page https://example.com/p"
    assert page["properties"]["Tags"]["multi_select"][0]["name"] == "a"

    appended = notion.blocks.children.append(
        block_id=page["id"], children=[paragraph(f"b{n}") for n in range(100, 180)]
    )
    assert appended["object"] == "list"
    assert [b["paragraph"]["rich_text"][0]["plain_text"] for b in appended["results"]][
        :2
    ] == ["b100", "b101"]
    nested = notion.blocks.children.append(
        block_id=page["id"],
        children=[
            {
                "type": "toggle",
                "toggle": {"rich_text": [], "children": [paragraph("inner")]},
            }
        ],
    )
    toggle = nested["results"][0]
    assert (toggle["type"], toggle["has_children"]) == ("toggle", True)

    blocks = collect_paginated_api(notion.blocks.children.list, block_id=page["id"])
    assert len(blocks) == 181
    assert [b["paragraph"]["rich_text"][0]["plain_text"] for b in blocks[:180]] == [
        f"b{n}" for n in range(180)
    ]
    assert all(b["object"] == "block" and b["id"] and b["type"] for b in blocks)
    assert blocks[0]["parent"] == {"type": "page_id", "page_id": page["id"]}
    assert len({b["id"] for b in blocks}) == 181

    first = notion.blocks.children.list(block_id=page["id"], page_size=70)
    assert (len(first["results"]), first["has_more"]) == (70, True)
    second = notion.blocks.children.list(
        block_id=page["id"], page_size=70, start_cursor=first["next_cursor"]
    )
    assert second["results"][0]["id"] == first["next_cursor"] == blocks[70]["id"]
    last = notion.blocks.children.list(
        block_id=page["id"], start_cursor=blocks[150]["id"]
    )
    assert (len(last["results"]), last["has_more"], last["next_cursor"]) == (
        31,
        False,
        None,
    )
    inner = notion.blocks.children.list(block_id=toggle["id"])["results"]
    assert inner[0]["paragraph"]["rich_text"][0]["plain_text"] == "inner"
    assert inner[0]["parent"] == {"type": "block_id", "block_id": toggle["id"]}


def test_query_pages_page_by_page(server: NotionServer) -> None:
    notion = client_for(server)
    database = server.add_database()
    created = [
        create_page(notion, database, f"https://example.com/{n}", [])["id"]
        for n in range(5)
    ]
    found = collect_paginated_api(
        notion.data_sources.query, data_source_id=database.data_source_id, page_size=2
    )
    assert [page["id"] for page in found] == created
    one = notion.data_sources.query(
        data_source_id=database.data_source_id,
        filter={"property": "Source URL", "url": {"equals": "https://example.com/3"}},
    )
    assert ([page["id"] for page in one["results"]], one["has_more"]) == (
        [created[3]],
        False,
    )
    assert (
        notion.pages.retrieve(page_id=created[0].replace("-", ""))["id"] == created[0]
    )


def refused(call: Callable[[], Any]) -> APIResponseError:
    with pytest.raises(APIResponseError) as caught:
        call()
    return caught.value


def test_errors_are_notions_codes(server: NotionServer) -> None:
    notion = client_for(server)
    database = server.add_database()
    page_id = create_page(notion, database, "https://example.com/e", [])["id"]

    def append(children: list[Any]) -> Callable[[], Any]:
        return lambda: notion.blocks.children.append(
            block_id=page_id, children=children
        )

    def toggle(children: list[Any]) -> dict[str, Any]:
        return {"type": "toggle", "toggle": {"rich_text": [], "children": children}}

    cases: list[tuple[Callable[[], Any], int, str, str]] = [
        (lambda: notion.pages.retrieve(page_id="not-an-id"), 400, "validation_error", "path failed validation: path.page_id"),
        (lambda: notion.pages.retrieve(page_id="0" * 32), 404, "object_not_found", "Could not find page"),
        (append([{"type": "bogus", "bogus": {}}]), 400, "validation_error", "body.children[0].type should be one of"),
        (append([{"type": "paragraph", "paragraph": {}}]), 400, "validation_error", "paragraph.rich_text should be defined"),
        (append([toggle([toggle([toggle([paragraph("too deep")])])])]), 400, "validation_error", "levels of nesting"),
        (append([paragraph("x")] * 101), 400, "validation_error", "body.children.length should be ≤ `100`"),
        (append([toggle([paragraph("x")] * 10)] * 91), 400, "validation_error", "at most 1000 blocks"),
        (append([paragraph("x" * 2001)]), 400, "validation_error", "text.content.length should be ≤ `2000`"),
        (lambda: notion.data_sources.query(data_source_id=database.data_source_id, page_size=101), 400, "validation_error", "page_size"),
        (lambda: client_for(server, "secret_wrong").pages.retrieve(page_id=page_id), 401, "unauthorized", "API token is invalid"),
    ]  # fmt: skip
    for call, status, code, message in cases:
        error = refused(call)
        assert (error.status, error.code, message in str(error)) == (
            status,
            code,
            True,
        ), str(error)
        if code == "validation_error":
            assert " failed validation: " in str(error)
    assert (
        len(notion.blocks.children.list(block_id=page_id)["results"]) == 0
    )  # nothing half-appended


def test_rate_limits_are_per_integration(server: NotionServer) -> None:
    server.state.rate, server.state.burst = 0.5, 2.0
    server.add_token("secret_second_integration")
    first, second = client_for(server), client_for(server, "secret_second_integration")
    database = server.add_database()
    first.databases.retrieve(database_id=database.id)
    first.databases.retrieve(database_id=database.id)
    error = refused(lambda: first.databases.retrieve(database_id=database.id))
    assert (error.status, error.code) == (429, APIErrorCode.RateLimited)
    assert int(error.headers["Retry-After"]) >= 1
    assert (
        second.databases.retrieve(database_id=database.id)["id"] == database.id
    )  # its own budget
