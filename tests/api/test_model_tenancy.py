"""AI models belong to a tenant: two tenants, alice and bob, and the operator's seeded `offline`.

The attack from the issue: one tenant registering `http://127.0.0.1:8127/v1` as the default model
would have received every tenant's articles (with the server's OpenAI key). Now the address is refused,
a tenant's default is its own, and another tenant's model is not found.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import select

from gleaner.db import session_scope
from gleaner.errors import Conflict
from gleaner.models import AIModel, ProcessingTask
from gleaner.runtime import Runtime
from gleaner.settings import Settings
from gleaner_api.app import create_app

ENCRYPTION_KEY = Fernet.generate_key().decode()
TENANT_KEY = "sk-alice-own-key-0123456789"


@pytest.fixture
def test_env(
    test_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    monkeypatch.setenv("GLEANER_MODEL_KEYS_ENCRYPTION_KEY", ENCRYPTION_KEY)
    return {**test_env, "GLEANER_MODEL_KEYS_ENCRYPTION_KEY": ENCRYPTION_KEY}


@pytest.fixture
def bob(client: TestClient, other_key: str) -> Iterator[TestClient]:
    with TestClient(client.app, raise_server_exceptions=False) as as_bob:
        as_bob.headers["Authorization"] = f"Bearer {other_key}"
        yield as_bob


def models(client: TestClient) -> dict[str, dict[str, Any]]:
    response = client.get("/api/ai/models")
    assert response.status_code == 200, response.text
    return {m["name"]: m for m in response.json()}


def task_model(runtime: Runtime, task_id: int) -> int:
    with session_scope(runtime.sessions) as session:
        task = session.get_one(ProcessingTask, task_id)
        return int(task.config["model_id"])


def test_the_attack_from_the_issue_is_refused(
    client: TestClient, bob: TestClient, runtime: Runtime
) -> None:
    attack = {
        "name": "mine",
        "provider": "openai",
        "base_url": "http://127.0.0.1:8127/v1",
        "is_default": True,
    }
    response = client.post("/api/ai/models", json=attack)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "blocked_address"
    assert error["details"][0]["location"] == ["body", "base_url"]
    for spelling in ("http://localhost:8127/v1", "http://[::1]/v1", "http://2130706433/v1",
                     "http://169.254.169.254/v1", "http://10.0.0.7/v1", "https://llm.example:8127/v1"):  # fmt: skip
        refused = client.post("/api/ai/models", json={**attack, "base_url": spelling})
        assert refused.status_code == 422, (spelling, refused.text)
    # bob's next pipeline still runs on the operator's model
    offline = models(bob)["offline"]
    queued = bob.post("/api/pipelines", json={"urls": ["https://example.org/b"]})
    assert queued.status_code == 202, queued.text
    assert task_model(runtime, queued.json()["task_id"]) == offline["id"]


def test_a_tenants_model_is_its_own(
    client: TestClient, bob: TestClient, runtime: Runtime
) -> None:
    body = {
        "name": "alice-llm",
        "provider": "openai",
        "model": "m",
        "base_url": "https://llm.example/v1",
        "api_key": TENANT_KEY,
        "is_default": True,
    }
    created = client.post("/api/ai/models", json=body)
    assert created.status_code == 201, created.text
    mine = created.json()
    assert (mine["owner"], mine["has_api_key"], mine["is_default"]) == (
        "alice",
        True,
        True,
    )
    assert TENANT_KEY not in created.text
    assert TENANT_KEY not in client.get("/api/ai/models").text

    # alice: her model is her default; the operator's is still there but not her default
    seen = models(client)
    assert set(seen) == {"offline", "alice-llm"}
    assert (seen["offline"]["is_default"], seen["offline"]["owner"]) == (False, None)
    queued = client.post("/api/pipelines", json={"urls": ["https://example.org/a"]})
    assert task_model(runtime, queued.json()["task_id"]) == mine["id"]

    # bob: does not see it, cannot name it, and his default is still the operator's
    assert set(models(bob)) == {"offline"}
    assert models(bob)["offline"]["is_default"]
    for path, payload in [
        ("/api/pipelines", {"urls": ["https://example.org/b"], "model_id": mine["id"]}),
        ("/api/ai/async/batch", {"parsed_content_ids": [1], "model_id": mine["id"]}),
    ]:
        refused = bob.post(path, json=payload)
        assert refused.status_code == 404, refused.text
    named = bob.post(
        "/api/pipelines",
        json={"urls": ["https://example.org/b"], "model_id": mine["id"]},
    )
    assert named.json()["error"]["code"] == "model_not_found"
    queued = bob.post("/api/pipelines", json={"urls": ["https://example.org/b"]})
    assert task_model(runtime, queued.json()["task_id"]) == models(bob)["offline"]["id"]

    # bob may use the same name for a model of his own; alice may not twice
    assert (
        bob.post(
            "/api/ai/models", json={"name": "alice-llm", "provider": "offline"}
        ).status_code
        == 201
    )
    again = client.post(
        "/api/ai/models", json={"name": "alice-llm", "provider": "offline"}
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "model_exists")

    # the key is stored encrypted, never as given
    with session_scope(runtime.sessions) as session:
        stored = session.scalars(
            select(AIModel.api_key_encrypted).where(AIModel.id == mine["id"])
        ).one()
    assert stored is not None
    assert TENANT_KEY not in stored
    assert (
        Fernet(ENCRYPTION_KEY.encode()).decrypt(stored.encode()).decode() == TENANT_KEY
    )


def test_no_key_is_stored_without_an_encryption_key(
    settings: Settings, runtime: Runtime, api_key: str
) -> None:
    plain = settings.model_copy(update={"MODEL_KEYS_ENCRYPTION_KEY": None})
    with TestClient(create_app(plain), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {api_key}"
        body = {"name": "k", "provider": "openai", "base_url": "https://llm.example/v1"}
        refused = client.post("/api/ai/models", json={**body, "api_key": TENANT_KEY})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "key_storage_not_configured"
        assert "k" not in models(client)
        # a keyless model (a self-hosted server that needs none) is still fine
        assert client.post("/api/ai/models", json=body).status_code == 201


def test_operator_models_come_from_the_admin_command(
    client: TestClient, bob: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    from gleaner_api.__main__ import main

    argv = ["models", "create", "--name", "house-llm", "--provider", "openai"]
    assert main([*argv, "--model", "big", "--default"]) == 0
    model_id = int(capsys.readouterr().out)
    for tenant in (client, bob):
        seen = models(tenant)["house-llm"]
        assert (seen["id"], seen["owner"], seen["is_default"]) == (model_id, None, True)
        assert models(tenant)["offline"]["is_default"] is False
    with pytest.raises(Conflict, match="exists already"):
        main(argv)
