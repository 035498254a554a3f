"""Notion property values are checked against Notion's documented rules at submit, with or without a
cached database schema: what Notion would refuse is a 422 naming the property, never a 202."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

DATABASE = "0123456789abcdef0123456789abcdef"

REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"Tags": {"multi_select": "x"}}, "'Tags': multi_select must be a list"),
    ({"Tags": {"multi_select": [{"name": "a,b"}]}}, "contains a comma"),
    ({"Tags": {"multi_select": [{"name": str(n)} for n in range(101)]}}, "allows 100"),
    ({"Score": {"number": "five"}}, "'Score': number must be a number"),
    ({"Score": {"number": True}}, "must be a number"),
    ({"Kind": {"select": {"name": "a, b"}}}, "contains a comma"),
    ({"Kind": {"select": {"name": "x" * 101}}}, "Notion allows 100"),
    ({"Note": {"rich_text": [{"text": {"content": "x" * 2001}}]}}, "is 2001 characters"),
    ({"Note": {"rich_text": [{"text": {"content": "🙂" * 1001}}]}}, "is 2002 characters"),  # UTF-16, as Notion counts
    ({"Note": {"rich_text": "plain"}}, "must be a list"),
    ({"Note": {"rich_text": [{"text": {"content": "x", "link": {"url": "u" * 2001}}}]}}, "link.url"),
    ({"Name": {"title": [{"bogus": {}}]}}, "must hold one of text"),
    ({"Link": {"url": "https://e.org/" + "a" * 2000}}, "'Link': url is"),
    ({"Mail": {"email": "a" * 201}}, "Notion allows 200"),
    ({"Phone": {"phone_number": 5}}, "must be a string"),
    ({"Done": {"checkbox": "yes"}}, "true or false"),
    ({"When": {"date": {"start": "next week"}}}, "not an ISO 8601 date"),
    ({"When": {"date": "2026-01-01"}}, "'start'"),
    ({"Who": {"people": [{"id": "bob"}]}}, "a Notion UUID"),
    ({"Rel": {"relation": [{"id": "1"}]}}, "a Notion UUID"),
    ({"Files": {"files": [{"name": "f", "url": "x"}]}}, "'external'"),
]  # fmt: skip

ACCEPTED: dict[str, Any] = {
    "Tags": {"multi_select": [{"name": "Important"}, {"id": "abc"}]},
    "Score": {"number": 4.5},
    "Kind": {"select": None},
    "Note": {"rich_text": [{"type": "text", "text": {"content": "x" * 2000, "link": None}}]},
    "Link": {"url": None},
    "When": {"date": {"start": "2026-11-29", "end": "2026-11-30T10:00:00Z"}},
    "Who": {"people": [{"object": "user", "id": "0123456789abcdef0123456789abcdef"}]},
    "Rel": {"relation": [{"id": "01234567-89ab-cdef-0123-456789abcdef"}]},
    "Done": {"checkbox": False},
}  # fmt: skip


def test_values_notion_would_refuse_are_422_at_submit(client: TestClient) -> None:
    wrong = []
    for properties, expected in REFUSED:
        response = client.post(
            "/api/pipelines",
            json={
                "urls": ["https://example.com/n"],
                "notion": {"database_id": DATABASE, "properties": properties},
            },
        )
        error = response.json().get("error") or {}
        if (
            response.status_code != 422
            or error.get("code") != "invalid_notion_properties"
            or expected not in error.get("message", "")
        ):
            wrong.append(
                f"{properties!s:.120}: {response.status_code} {response.text[:300]}"
            )
    assert not wrong, "\n".join(wrong)
    batch = client.post(
        "/api/notion/async/batch",
        json={
            "ai_content_ids": [1],
            "database_id": DATABASE,
            "properties": REFUSED[0][0],
        },
    )
    assert batch.status_code == 422  # the per-stage endpoint checks the same way


def test_values_notion_accepts_pass(client: TestClient) -> None:
    response = client.post(
        "/api/pipelines",
        json={
            "urls": ["https://example.com/n"],
            "notion": {"database_id": DATABASE, "properties": ACCEPTED},
        },
    )
    assert response.status_code == 202, response.text


def test_database_id_must_be_a_notion_id(client: TestClient) -> None:
    for database_id in (
        "not-a-uuid",
        DATABASE + "0",
        "0123456789abcdef0123456789abcdeg",
    ):
        response = client.post(
            "/api/pipelines",
            json={
                "urls": ["https://example.com/n"],
                "notion": {"database_id": database_id},
            },
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"][0]["location"] == [
            "body",
            "notion",
            "database_id",
        ]
    for database_id in (DATABASE, "01234567-89ab-cdef-0123-456789ABCDEF"):
        response = client.post(
            "/api/pipelines",
            json={
                "urls": ["https://example.com/n"],
                "notion": {"database_id": database_id},
            },
        )
        assert response.status_code == 202, response.text
