"""Mapping an article to Notion properties and blocks: pure functions, checked against Notion's limits."""

from __future__ import annotations

from datetime import date

import pytest

from gleaner.errors import PermanentError
from gleaner.notion_schema import DatabaseSchema, check_properties
from gleaner_notion.mapping import (
    MAX_CHILDREN,
    Article,
    batch_blocks,
    create_request,
    encoded_size,
    option_names,
    plan_page,
    rich_text,
    split_text,
)
from tests.notion.notion_server import utf16_len

SCHEMA = DatabaseSchema(
    "db",
    "ds",
    "Title",
    {
        "Title": "title",
        "Link": "url",
        "Tags": "multi_select",
        "Date": "date",
        "Summary": "rich_text",
    },
)


class TestText:
    def test_pieces_stay_within_2000_utf16_units_and_rejoin(self) -> None:
        text = "👩‍👩‍👧 ok " * 2000 + "🦀" * 3001
        pieces = split_text(text)
        assert "".join(pieces) == text
        assert max(utf16_len(piece) for piece in pieces) <= 2000
        # No piece starts or ends inside a surrogate pair: each encodes on its own.
        assert all(
            piece.encode("utf-16-le").decode("utf-16-le") == piece for piece in pieces
        )

    def test_cuts_after_a_space_when_one_is_near(self) -> None:
        pieces = split_text("word " * 1000)
        assert all(piece.endswith(" ") for piece in pieces[:-1])

    def test_more_than_100_objects_are_cut_with_an_ellipsis(self) -> None:
        items = rich_text("x" * 300_000)
        assert len(items) == 100
        assert items[-1]["text"]["content"].endswith("…")
        assert utf16_len(items[-1]["text"]["content"]) <= 2000


class TestProperties:
    def test_option_names_lose_commas_and_duplicates_and_stop_at_100(self) -> None:
        names = option_names(
            ["a, b", "A  B", "c" * 300, *[f"k{n}" for n in range(200)]]
        )
        assert names[0] == "a b"
        assert len(names[1]) == 100
        assert len(names) == 100
        assert not any("," in name for name in names)

    def test_maps_to_the_schemas_columns(self) -> None:
        article = Article("https://e.com/x", "T", "S", ["k"], ["i"], date(2026, 1, 2))
        plan = plan_page(article, SCHEMA)
        assert plan.url_property == "Link"
        assert plan.properties["Link"] == {"url": "https://e.com/x"}
        assert plan.properties["Tags"] == {"multi_select": [{"name": "k"}]}
        assert plan.properties["Date"] == {"date": {"start": "2026-01-02"}}
        assert plan.properties["Summary"]["rich_text"][0]["text"]["content"] == "S"

    def test_a_database_without_a_url_property_is_refused(self) -> None:
        schema = DatabaseSchema("db", "ds", "Title", {"Title": "title"})
        with pytest.raises(PermanentError, match="needs a URL property"):
            plan_page(Article("https://e.com/x", "T"), schema)

    def test_a_url_over_2000_characters_is_refused(self) -> None:
        with pytest.raises(PermanentError, match="2000"):
            plan_page(Article("https://e.com/" + "x" * 2000, "T"), SCHEMA)

    def test_user_multi_select_is_joined_with_ours(self) -> None:
        plan = plan_page(
            Article("https://e.com/x", "T", keywords=["k"]),
            SCHEMA,
            {"Tags": {"multi_select": [{"name": "Mine"}]}},
        )
        assert plan.properties["Tags"] == {
            "multi_select": [{"name": "Mine"}, {"name": "k"}]
        }

    def test_check_properties_needs_no_client(self) -> None:
        problems = check_properties(
            {
                "Nope": {"url": "x"},
                "Tags": {"select": {"name": "a"}},
                "Date": {"formula": {}},
            },
            SCHEMA,
        )
        assert problems == [
            "property 'Nope' is not in the database (its properties: Date, Link, Summary, Tags, Title)",
            "property 'Tags' is a multi_select property, not select",
            "property 'Date': 'formula' is not a type a page can be created with",
        ]


class TestRequests:
    def test_blocks_are_batched_by_count_and_size(self) -> None:
        small = [
            {"type": "paragraph", "paragraph": {"rich_text": rich_text("x")}}
        ] * 250
        assert [len(batch) for batch in batch_blocks(small)] == [
            MAX_CHILDREN,
            MAX_CHILDREN,
            50,
        ]
        big = [
            {"type": "paragraph", "paragraph": {"rich_text": rich_text("é" * 80_000)}}
        ] * 6
        batches = batch_blocks(big)
        assert len(batches) > 1
        assert all(encoded_size(batch) <= 400_000 for batch in batches)

    def test_the_create_carries_the_first_blocks_within_the_payload_limit(self) -> None:
        article = Article("https://e.com/x", "T", "🙂" * 100_000, insights=["i"] * 300)
        create, appends = create_request(plan_page(article, SCHEMA), "ds")
        assert create["parent"] == {"type": "data_source_id", "data_source_id": "ds"}
        assert encoded_size(create) <= 500 * 1024
        assert all(
            len(batch) <= MAX_CHILDREN
            and encoded_size({"children": batch}) <= 500 * 1024
            for batch in appends
        )
