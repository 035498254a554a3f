"""A dry run fails the item whose request Notion would refuse, with the same rules the API applies at
submit (gleaner.notion_rules). Tasks are written straight to SQL here, as a task from before the API
checked them would be, so only the worker stands between them and Notion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gleaner.runtime import Runtime, set_current
from gleaner.settings import Settings
from tests.notion.factories import create_ai_contents, submit_notion_task
from tests.notion.test_jobs import run_items

DATABASE = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def dry_runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime.start(settings.model_copy(update={"NOTION_TOKEN": None}))
    set_current(runtime)
    yield runtime
    set_current(None)
    runtime.close()


REFUSED: list[tuple[str, dict[str, Any]]] = [
    ("multi_select", {"Tags": {"multi_select": "x"}}),
    ("number", {"Score": {"number": "five"}}),
    ("comma", {"Kind": {"select": {"name": "a, b"}}}),
    ("rich_text", {"Note": {"rich_text": [{"text": {"content": "x" * 2001}}]}}),
    ("url", {"Link": {"url": "https://example.org/" + "a" * 2000}}),
    ("date", {"When": {"date": {"start": "yesterday"}}}),
]


def test_dry_run_fails_what_notion_would_refuse(dry_runtime: Runtime) -> None:
    urls = [f"https://example.com/{name}" for name, _ in REFUSED]
    ai_ids = create_ai_contents(
        dry_runtime, [*urls, "https://example.com/ok", "https://example.com/id"]
    )
    outcomes = {}
    for (name, properties), ai_id in zip(REFUSED, ai_ids, strict=False):
        task_id = submit_notion_task(
            dry_runtime, [ai_id], DATABASE, properties=properties
        )
        [item] = run_items(dry_runtime, task_id)
        outcomes[name] = (item.status, item.error_code)
    good = {"Score": {"number": 5}, "Kind": {"select": {"name": "a"}}}
    [ok] = run_items(
        dry_runtime,
        submit_notion_task(dry_runtime, [ai_ids[-2]], DATABASE, properties=good),
    )
    [bad_id] = run_items(
        dry_runtime, submit_notion_task(dry_runtime, [ai_ids[-1]], "not-a-uuid")
    )
    assert outcomes == {
        name: ("failed", "notion_invalid_properties") for name, _ in REFUSED
    }
    assert (ok.status, ok.error_code) == ("completed", None)
    assert (bad_id.status, bad_id.error_code) == (
        "failed",
        "notion_invalid_database_id",
    )
