from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def db_url(any_db_url: str) -> str:
    """Links tests run on SQLite and PostgreSQL: normalization and races meet each one's constraints."""
    return any_db_url


class TestCreateLinks:
    def test_one_url_is_normalized(self, client: TestClient) -> None:
        response = client.post(
            "/api/links", json={"url": "HTTP://Example.COM:80/a/../b#frag"}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["created"] == 1
        assert body["links"][0]["normalized_url"] == "http://example.com/b"

    def test_many_urls_are_deduplicated(self, client: TestClient) -> None:
        urls = [
            "https://example.com/x",
            "https://EXAMPLE.com/x#top",
            "https://example.com/y",
        ]
        body = client.post("/api/links", json={"urls": urls}).json()
        assert body["created"] == 2
        assert [link["normalized_url"] for link in body["links"]] == [
            "https://example.com/x",
            "https://example.com/y",
        ]
        again = client.post("/api/links", json={"urls": urls}).json()
        assert again["created"] == 0
        assert [link["id"] for link in again["links"]] == [
            link["id"] for link in body["links"]
        ]

    def test_non_http_scheme_is_refused(self, client: TestClient) -> None:
        response = client.post(
            "/api/links", json={"urls": ["https://ok.example/", "file:///etc/passwd"]}
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_url"
        assert (
            client.get("/api/links").json()["total"] == 0
        )  # one bad URL rejects the whole request

    def test_too_long_url_is_refused(self, client: TestClient) -> None:
        response = client.post(
            "/api/links", json={"url": "https://example.com/" + "a" * 3000}
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "url_too_long"

    def test_malformed_json_is_400(self, client: TestClient) -> None:
        response = client.post(
            "/api/links",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "malformed_json"

    def test_wrong_type_is_422(self, client: TestClient) -> None:
        response = client.post("/api/links", json={"urls": "https://example.com"})
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "validation_error"

    def test_unknown_field_is_422(self, client: TestClient) -> None:
        response = client.post("/api/links", json={"ulrs": ["https://example.com"]})
        assert response.status_code == 422


class TestReadLinks:
    def test_list_is_paginated(self, client: TestClient) -> None:
        client.post(
            "/api/links", json={"urls": [f"https://example.com/{i}" for i in range(5)]}
        )
        page = client.get("/api/links", params={"page": 2, "page_size": 2}).json()
        assert page["total"] == 5
        assert len(page["items"]) == 2
        assert page["page"] == 2

    def test_another_owners_link_is_404(
        self, client: TestClient, other_key: str
    ) -> None:
        link_id = client.post(
            "/api/links", json={"url": "https://example.com/mine"}
        ).json()["links"][0]["id"]
        assert client.get(f"/api/links/{link_id}").status_code == 200
        response = client.get(
            f"/api/links/{link_id}", headers={"Authorization": f"Bearer {other_key}"}
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "link_not_found"

    def test_unknown_link_is_404(self, client: TestClient) -> None:
        assert (
            client.get("/api/links/999999").json()["error"]["code"] == "link_not_found"
        )


class TestAuth:
    def test_missing_key_is_401(self, client: TestClient) -> None:
        response = client.get("/api/links", headers={"Authorization": ""})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "missing_api_key"

    def test_wrong_key_is_401(self, client: TestClient) -> None:
        response = client.get(
            "/api/links", headers={"Authorization": "Bearer glr_nope"}
        )
        assert response.json()["error"]["code"] == "invalid_api_key"


class TestConcurrentSaves:
    def test_racing_requests_get_one_row(self, client: TestClient) -> None:
        from concurrent.futures import ThreadPoolExecutor

        urls = [f"https://example.com/race/{i}" for i in range(20)]
        with ThreadPoolExecutor(4) as pool:
            answers = list(
                pool.map(
                    lambda _: client.post("/api/links", json={"urls": urls}), range(4)
                )
            )
        assert all(answer.status_code == 201 for answer in answers)
        ids = {
            tuple(link["id"] for link in answer.json()["links"]) for answer in answers
        }
        assert len(ids) == 1  # every request saw the same 20 rows
        assert (
            sum(answer.json()["created"] for answer in answers) == 20
        )  # each row made once
        assert client.get("/api/links").json()["total"] == 20
