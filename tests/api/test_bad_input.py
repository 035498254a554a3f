"""Bad input answers a 4xx that names the field (and, in a batch, the index of each bad URL) — never
a 500, and never a 202 for work that could only fail later. Every row runs on SQLite and PostgreSQL:
ids past 2^31 were a 500 on PostgreSQL while its id columns were 32-bit."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

BIG = 2**63  # one past the largest 64-bit id
PG_INT_MAX = 2**31 - 1


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


# (method, path, JSON body, status, error code, where: the location of the first problem)
CASES: list[tuple[str, str, Any, int, str, list[Any]]] = [
    # URLs: refused at submit, with the field and the index
    ("POST", "/api/pipelines", {"urls": ["http://[::1/"]}, 422, "invalid_url", ["body", "urls", 0]),
    ("POST", "/api/pipelines", {"urls": ["https://ok.example/a", "http://exa mple.org/"]}, 422, "invalid_url", ["body", "urls", 1]),
    ("POST", "/api/pipelines", {"urls": ["http://example.org:99999/"]}, 422, "invalid_url", ["body", "urls", 0]),
    ("POST", "/api/pipelines", {"urls": ["http://example.org:abc/"]}, 422, "invalid_url", ["body", "urls", 0]),
    ("POST", "/api/pipelines", {"urls": ["https://user:pass@example.org/"]}, 422, "url_has_credentials", ["body", "urls", 0]),
    ("POST", "/api/pipelines", {"urls": ["https://token@example.org/"]}, 422, "url_has_credentials", ["body", "urls", 0]),
    ("POST", "/api/links", {"url": "https://user:pass@example.org/"}, 422, "url_has_credentials", ["body", "url", 0]),
    ("POST", "/api/links", {"urls": ["https://a.example/", "http://[::1/"]}, 422, "invalid_url", ["body", "urls", 1]),
    # integers past 2^63 in bodies, paths and pages
    ("POST", "/api/pipelines", {"urls": ["https://a.example/"], "model_id": BIG}, 422, "validation_error", ["body", "model_id"]),
    ("POST", "/api/pipelines", {"link_ids": [1, BIG]}, 422, "validation_error", ["body", "link_ids", 1]),
    ("POST", "/api/pipelines", {"link_ids": [0]}, 422, "validation_error", ["body", "link_ids", 0]),
    ("POST", "/api/parsing/async/batch", {"link_ids": [BIG * 4]}, 422, "validation_error", ["body", "link_ids", 0]),
    ("POST", "/api/ai/async/batch", {"parsed_content_ids": [BIG]}, 422, "validation_error", ["body", "parsed_content_ids", 0]),
    ("POST", "/api/notion/async/batch", {"ai_content_ids": [-1]}, 422, "validation_error", ["body", "ai_content_ids", 0]),
    ("POST", "/api/ai/async/single/1", {"model_id": BIG}, 422, "validation_error", ["body", "model_id"]),
    ("GET", f"/api/tasks/{BIG}", None, 422, "validation_error", ["path", "task_id"]),
    ("GET", f"/api/links/{BIG}", None, 422, "validation_error", ["path", "link_id"]),
    ("GET", f"/api/parsing/async/status/{BIG}", None, 422, "validation_error", ["path", "task_id"]),
    ("DELETE", f"/api/ai/async/cancel/{BIG}", None, 422, "validation_error", ["path", "task_id"]),
    ("POST", f"/api/notion/async/retry/{BIG}", None, 422, "validation_error", ["path", "task_id"]),
    ("POST", f"/api/parsing/async/single/{BIG}", None, 422, "validation_error", ["path", "link_id"]),
    ("POST", f"/api/ai/async/single/{BIG}", None, 422, "validation_error", ["path", "parsed_content_id"]),
    ("POST", f"/api/notion/async/single/{BIG}", None, 422, "validation_error", ["path", "ai_content_id"]),
    ("GET", f"/api/links?page={BIG}", None, 422, "validation_error", ["query", "page"]),
    ("GET", f"/api/tasks?page={BIG}", None, 422, "validation_error", ["query", "page"]),
    # 64-bit ids that do not exist are simply not found, on PostgreSQL too
    ("GET", f"/api/tasks/{PG_INT_MAX + 1}", None, 404, "task_not_found", []),
    ("GET", f"/api/links/{BIG - 1}", None, 404, "link_not_found", []),
    ("POST", "/api/pipelines", {"link_ids": [PG_INT_MAX + 1]}, 404, "not_found", []),
    ("POST", "/api/pipelines", {"urls": ["https://a.example/"], "model_id": PG_INT_MAX + 1}, 404, "model_not_found", []),
    ("POST", f"/api/parsing/async/single/{PG_INT_MAX + 7}", None, 404, "not_found", []),
    ("GET", f"/api/links?page={10**6}", None, 200, "", []),
]  # fmt: skip


def test_bad_input_is_a_4xx_naming_the_field(client: TestClient) -> None:
    # One test per database walks the whole table (a fresh PostgreSQL schema per row would cost ~2 s each).
    wrong: list[str] = []
    for method, path, body, status, code, where in CASES:
        response = client.request(method, path, json=body)
        error = response.json().get("error") if response.status_code >= 400 else None
        got = (
            response.status_code,
            error["code"] if error else "",
            error["details"][0]["location"] if error and where else [],
        )
        if got != (status, code, where):
            wrong.append(
                f"{method} {path} {body}: {response.status_code} {response.text[:300]}"
            )
    assert not wrong, "\n".join(wrong)
    assert client.get("/api/links").json()["total"] == 0  # nothing half-created


def test_every_bad_url_of_a_batch_is_listed(client: TestClient) -> None:
    urls = [
        "https://fine.example/1",
        "http://[::1/",
        "https://fine.example/2",
        "http://exa mple.org/",
        "http://example.org:99999/",
        "https://user:s3cret@example.org/",
        "ftp://example.org/",
    ]
    response = client.post("/api/pipelines", json={"urls": urls})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["message"].startswith("urls[1]: ")
    assert [(d["location"][2], d["type"]) for d in error["details"]] == [
        (1, "invalid_url"),
        (3, "invalid_url"),
        (4, "invalid_url"),
        (5, "url_has_credentials"),
        (6, "invalid_url"),
    ]
    assert "s3cret" not in response.text  # the refused credentials are not echoed back


def test_accepted_urls_are_stored_without_surprises(client: TestClient) -> None:
    response = client.post(
        "/api/links",
        json={"urls": ["http://Bücher.example:8080/a b", "http://[2001:db8::1]/x"]},
    )
    assert response.status_code == 201, response.text
    assert [link["normalized_url"] for link in response.json()["links"]] == [
        "http://xn--bcher-kva.example:8080/a%20b",
        "http://[2001:db8::1]/x",
    ]


def test_bodies_take_only_their_published_types(client: TestClient) -> None:
    """JSON Schema's types, no more (found by the contract fuzzer): 0 is not false and "5" is not 5,
    but 5.0 is the integer 5."""
    for body in (
        {"link_ids": ["5"]},
        {"link_ids": [True]},
        {"link_ids": [5], "processing_config": {"generate_summary": 0}},
    ):
        response = client.post("/api/pipelines", json={"stages": ["parsing"], **body})
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == "validation_error"
    webhook = client.post(
        "/api/webhooks", json={"url": "https://hooks.example.org/x", "per_item": 0}
    )
    assert webhook.status_code == 422, webhook.text
    integral = client.post("/api/parsing/async/batch", json={"link_ids": [5.0]})
    assert integral.status_code == 404, (
        integral.text
    )  # read as link 5, which is not there
    assert integral.json()["error"]["details"] == {"missing": [5]}
