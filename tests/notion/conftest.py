"""A local Notion API per test, and the environment that points the notion stage at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notion.notion_server import Database, NotionServer

TOKEN = "secret_gleaner_test"

# Above Notion's 3/s so functional tests take seconds; tests about the budget set their own rates.
TEST_RATE = 20.0
TEST_BURST = 5


@pytest.fixture
def notion_server() -> Iterator[NotionServer]:
    server = NotionServer(token=TOKEN, rate=TEST_RATE, burst=TEST_BURST).start()
    yield server
    server.stop()


@pytest.fixture
def notion_database(notion_server: NotionServer) -> Database:
    return notion_server.add_database()


@pytest.fixture
def test_env(
    test_env: dict[str, str],
    notion_server: NotionServer,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The shared test environment plus the Notion settings (token set: not a dry run)."""
    extra = {
        "GLEANER_NOTION_TOKEN": TOKEN,
        "GLEANER_NOTION_BASE_URL": notion_server.url,
        "GLEANER_NOTION_REQUESTS_PER_SECOND": str(TEST_RATE),
        "GLEANER_NOTION_BURST": str(TEST_BURST),
    }
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    test_env.update(extra)
    return test_env
