"""Who may read what before anything else: authentication precedes the body, 401s say Bearer, and the
figures that span every tenant (queues, workers) are for operator keys only. Two tenants and an operator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def anonymous(client: TestClient) -> Iterator[TestClient]:
    with TestClient(client.app, raise_server_exceptions=False) as nobody:
        yield nobody


@pytest.mark.parametrize(
    ("headers", "code", "challenge"),
    [
        ({}, "missing_api_key", "Bearer"),
        ({"Authorization": "Basic YWxpY2U6eA=="}, "missing_api_key", "Bearer"),
        ({"Authorization": "Bearer glr_nope"}, "invalid_api_key", 'Bearer error="invalid_token"'),
    ],
)  # fmt: skip
def test_a_request_without_a_valid_key_is_401_before_its_body_is_read(
    anonymous: TestClient, headers: dict[str, str], code: str, challenge: str
) -> None:
    for method, path, body in [
        ("POST", "/api/pipelines", b"{not json"),
        ("POST", "/api/links", b'{"urls": ["http://[::1/"]}'),
        ("POST", "/api/ai/models", b'{"name": 1}'),
        ("GET", "/api/tasks/1", None),
        ("GET", "/api/monitoring/queues", None),
    ]:
        response = anonymous.request(
            method,
            path,
            content=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"]["code"] == code
        assert response.headers["WWW-Authenticate"] == challenge


def test_bad_json_with_a_key_is_still_400(client: TestClient) -> None:
    response = client.post(
        "/api/pipelines",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["error"]["code"]) == (
        400,
        "malformed_json",
    )


def test_queues_and_workers_are_for_operators(
    client: TestClient, other_key: str, operator: TestClient
) -> None:
    client.post(
        "/api/pipelines",
        json={"urls": ["https://example.com/a"], "stages": ["parsing"]},
    )
    for key in (None, other_key):  # alice, then bob
        if key:
            client.headers["Authorization"] = f"Bearer {key}"
        for path in ("/api/monitoring/queues", "/api/monitoring/workers"):
            response = client.get(path)
            assert response.status_code == 403, response.text
            assert response.json()["error"]["code"] == "operator_only"
        # what is theirs stays readable
        assert client.get("/api/monitoring/statistics").status_code == 200
    queues = operator.get("/api/monitoring/queues")
    assert queues.status_code == 200
    assert (
        queues.json()["queues"]["parsing"]["count"] == 1
    )  # alice's job, seen by the operator
    assert operator.get("/api/monitoring/workers").json()["total_workers"] == 0
