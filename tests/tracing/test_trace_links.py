"""The CLI shows an item's trace link when the API gives one, and nothing about traces otherwise."""

from __future__ import annotations

from typing import Any

from gleaner_api.cli.views import outcome

FAILED: dict[str, Any] = {
    "status": "failed",
    "error_code": "http_404",
    "error_message": "the page answered 404",
    "stage": "parsing",
    "position": None,
    "result_data": {},
}


def test_an_item_with_a_trace_url_shows_it_under_its_outcome() -> None:
    item = {**FAILED, "trace_id": "ab" * 16, "trace_url": "http://ui/t/" + "ab" * 16}
    assert outcome(item) == (
        "http_404: the page answered 404\ntrace: http://ui/t/" + "ab" * 16
    )


def test_without_a_trace_url_nothing_about_traces_is_shown() -> None:
    assert outcome({**FAILED, "trace_id": "ab" * 16, "trace_url": None}) == (
        "http_404: the page answered 404"
    )
