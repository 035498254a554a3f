"""NotionApi against the local Notion API: the version it speaks, the shared budget, and each error class."""

from __future__ import annotations

from typing import Any

import pytest
from redis import Redis

from gleaner.errors import PermanentError, RetryableError
from gleaner.ratelimit import TokenBucket
from gleaner_notion.client import NOTION_VERSION, NotionApi
from tests.notion.conftest import TOKEN
from tests.notion.notion_server import Database, Fault, NotionServer


def make_api(
    redis: Redis,
    server: NotionServer,
    *,
    token: str = TOKEN,
    rate: float = 20,
    burst: int = 5,
) -> NotionApi:
    return NotionApi(
        token,
        server.url,
        TokenBucket(redis, "rl:notion:test", rate, burst),
        rate_wait=10,
    )


def create_body(
    database: Database, url: str = "https://example.com/x"
) -> dict[str, Any]:
    return {
        "parent": {"type": "data_source_id", "data_source_id": database.data_source_id},
        "properties": {
            "Name": {"title": [{"type": "text", "text": {"content": "x"}}]},
            "Source URL": {"url": url},
        },
    }


class TestVersion:
    def test_follows_notion_clients_default_version(
        self, redis: Redis, notion_server: NotionServer, notion_database: Database
    ) -> None:
        api = make_api(redis, notion_server)
        assert api.notion_version == NOTION_VERSION == "2025-09-03"
        # The server refuses any other Notion-Version, so an answer proves the header.
        assert (
            api.retrieve_database(notion_database.id)["data_sources"][0]["id"]
            == notion_database.data_source_id
        )


class TestPermanentErrors:
    def test_400_validation_error_carries_notions_message(
        self, redis: Redis, notion_server: NotionServer, notion_database: Database
    ) -> None:
        body = create_body(notion_database)
        body["properties"]["Rating"] = {"number": "five"}
        with pytest.raises(PermanentError) as caught:
            make_api(redis, notion_server).create_page(body)
        assert caught.value.code == "notion_validation_error"
        assert "should be a number" in caught.value.message

    def test_401_unauthorized(
        self, redis: Redis, notion_server: NotionServer, notion_database: Database
    ) -> None:
        with pytest.raises(PermanentError) as caught:
            make_api(redis, notion_server, token="wrong").retrieve_database(
                notion_database.id
            )
        assert caught.value.code == "notion_unauthorized"
        assert "API token is invalid" in caught.value.message

    def test_403_restricted_resource(
        self, redis: Redis, notion_server: NotionServer, notion_database: Database
    ) -> None:
        notion_server.fail(Fault("POST", "/v1/pages", 403, "restricted_resource"))
        with pytest.raises(PermanentError) as caught:
            make_api(redis, notion_server).create_page(create_body(notion_database))
        assert caught.value.code == "notion_restricted_resource"
        assert notion_server.pages_by_url() == {}

    def test_404_object_not_found(
        self, redis: Redis, notion_server: NotionServer
    ) -> None:
        with pytest.raises(PermanentError) as caught:
            make_api(redis, notion_server).retrieve_database(
                "0" * 32
            )  # unknown, well-formed
        assert caught.value.code == "notion_object_not_found"
        assert "shared with your integration" in caught.value.message


class TestRetryableErrors:
    @pytest.mark.parametrize(
        ("status", "code", "raw", "expected"),
        [
            (409, "conflict_error", None, "notion_http_409"),
            (500, "internal_server_error", None, "notion_http_500"),
            (502, "bad_gateway", "<html>502 Bad Gateway</html>", "notion_http_502"),
            (503, "service_unavailable", None, "notion_http_503"),
            (504, "gateway_timeout", None, "notion_http_504"),
        ],
    )
    def test_server_side_failures_are_retryable(
        self, redis: Redis, notion_server: NotionServer, notion_database: Database,
        status: int, code: str, raw: str | None, expected: str,
    ) -> None:  # fmt: skip
        notion_server.fail(Fault("POST", "/v1/pages", status, code, raw_body=raw))
        with pytest.raises(RetryableError) as caught:
            make_api(redis, notion_server).create_page(create_body(notion_database))
        assert caught.value.code == expected
        # notion-client's own retry is off: exactly one create reached the server.
        assert notion_server.state.requests["POST pages"] == 1

    @pytest.mark.parametrize(
        ("status", "code"), [(429, "rate_limited"), (529, "service_overload")]
    )
    def test_429_and_529_pause_everyone_then_succeed(
        self,
        redis: Redis,
        notion_server: NotionServer,
        notion_database: Database,
        status: int,
        code: str,
    ) -> None:
        notion_server.fail(
            Fault("POST", "/v1/pages", status, code, count=2, retry_after=1)
        )
        api = make_api(redis, notion_server)
        page = api.create_page(create_body(notion_database))
        assert page["object"] == "page"
        assert notion_server.state.statuses[status] == 2
        assert notion_server.pages_by_url() == {"https://example.com/x": 1}

    def test_429_past_the_wait_budget_is_retryable_rate_limited(
        self, redis: Redis, notion_server: NotionServer, notion_database: Database
    ) -> None:
        notion_server.fail(
            Fault(
                "GET", "/v1/databases/.*", 429, "rate_limited", count=5, retry_after=30
            )
        )
        with pytest.raises(RetryableError) as caught:
            make_api(redis, notion_server).retrieve_database(notion_database.id)
        assert caught.value.code == "rate_limited"
        assert caught.value.retry_after == 30
        # The pause is shared: another replica's bucket is empty for the next half minute.
        assert TokenBucket(redis, "rl:notion:test", 20, 5).try_acquire() > 20

    def test_server_budget_above_rate_answers_429_and_client_still_succeeds(
        self, redis: Redis, notion_server: NotionServer, notion_database: Database
    ) -> None:
        notion_server.state.rate, notion_server.state.burst = 3.0, 3.0
        api = make_api(
            redis, notion_server, rate=30, burst=10
        )  # a client configured above Notion's budget
        for index in range(6):
            api.create_page(
                create_body(notion_database, f"https://example.com/{index}")
            )
        assert notion_server.state.statuses[429] >= 1
        assert sum(notion_server.pages_by_url().values()) == 6
