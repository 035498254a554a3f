from __future__ import annotations

from fastapi.testclient import TestClient


def test_the_offline_model_is_the_default(client: TestClient) -> None:
    models = client.get("/api/ai/models").json()
    assert [(m["name"], m["provider"], m["is_default"]) for m in models] == [
        ("offline", "offline", True)
    ]


def test_register_a_model_and_make_it_the_default(client: TestClient) -> None:
    body = {
        "name": "local-llm",
        "provider": "openai",
        "model": "qwen",
        "base_url": "https://llm.example/v1",
        "is_default": True,
    }
    created = client.post("/api/ai/models", json=body)
    assert created.status_code == 201, created.text
    models = {m["name"]: m for m in client.get("/api/ai/models").json()}
    assert models["local-llm"]["is_default"] is True
    assert models["offline"]["is_default"] is False  # one default at a time
    again = client.post("/api/ai/models", json=body)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "model_exists")


def test_unknown_provider_is_422(client: TestClient) -> None:
    response = client.post(
        "/api/ai/models", json={"name": "x", "provider": "gpt-magic"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_a_pipeline_can_name_a_model(client: TestClient) -> None:
    model_id = client.post(
        "/api/ai/models", json={"name": "second", "provider": "offline"}
    ).json()["id"]
    response = client.post(
        "/api/pipelines", json={"urls": ["https://example.com/m"], "model_id": model_id}
    )
    assert response.status_code == 202
