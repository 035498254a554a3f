"""The ai worker's side of model tenancy, against local chat-completions servers that record every
Authorization header: a tenant's model gets the tenant's own key (decrypted from SQL) and never the
server's GLEANER_OPENAI_API_KEY; its endpoint passes the fetcher's address rules at connect time; an
operator's model gets the server's key; a task can never run another tenant's model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet

from gleaner.db import session_scope
from gleaner.models import AIModel
from gleaner.runtime import Runtime
from gleaner.secrets import encrypt_model_key
from gleaner.tasks import ItemInput
from tests.ai.conftest import article, create_parsed_content
from tests.ai.openai_server import ChatCompletionsServer
from tests.factories import get_task, submit_task

RunWorker = Callable[..., Any]
SERVER_KEY = "sk-the-servers-own-key"
TENANT_KEY = "sk-alices-key"
ENCRYPTION_KEY = Fernet.generate_key().decode()


@pytest.fixture
def test_env(
    test_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The runtime and the worker share an encryption key."""
    monkeypatch.setenv("GLEANER_MODEL_KEYS_ENCRYPTION_KEY", ENCRYPTION_KEY)
    return {**test_env, "GLEANER_MODEL_KEYS_ENCRYPTION_KEY": ENCRYPTION_KEY}


@pytest.fixture
def servers() -> Iterator[dict[str, ChatCompletionsServer]]:
    started = {
        "tenant": ChatCompletionsServer(api_key=TENANT_KEY).start(),
        "operator": ChatCompletionsServer(api_key=SERVER_KEY).start(),
        "closed": ChatCompletionsServer(api_key=TENANT_KEY).start(),
    }
    yield started
    for server in started.values():
        server.stop()


def parsed_input(runtime: Runtime, name: str) -> ItemInput:
    with session_scope(runtime.sessions) as session:
        parsed = create_parsed_content(
            session, f"https://example.com/{name}", article("bees")
        )
        return ItemInput(
            item_id=parsed.id, item_type="parsed_content", parsed_content_id=parsed.id
        )


def add_model(
    runtime: Runtime, owner: str | None, base_url: str, key: str | None = None
) -> int:
    with session_scope(runtime.sessions) as session:
        model = AIModel(
            owner=owner,
            name=f"m{base_url[-12:]}{key}",
            provider="openai",
            model="test-model",
            base_url=base_url,
            api_key_encrypted=encrypt_model_key(runtime.settings, key) if key else None,
            config={},
        )
        session.add(model)
        session.flush()
        return model.id


def test_each_model_gets_only_its_own_key(
    runtime: Runtime,
    run_worker: RunWorker,
    servers: dict[str, ChatCompletionsServer],
) -> None:
    tenant, operator, closed = servers["tenant"], servers["operator"], servers["closed"]
    models = {
        "tenant": add_model(runtime, "alice", tenant.base_url, TENANT_KEY),
        "keyless": add_model(runtime, "alice", tenant.base_url),
        "closed": add_model(runtime, "alice", closed.base_url, TENANT_KEY),
        "operator": add_model(runtime, None, operator.base_url),
    }
    tasks = {
        name: submit_task(
            runtime,
            [parsed_input(runtime, name)],
            stages=("ai",),
            owner=owner,
            config={"model_id": models[model]},
        )
        for name, owner, model in [
            ("tenant", "alice", "tenant"),
            ("keyless", "alice", "keyless"),
            ("closed", "alice", "closed"),
            ("operator", "alice", "operator"),
            ("foreign", "bob", "tenant"),
        ]
    }
    tenant_port = tenant.base_url.split(":")[2].split("/")[0]
    run_worker(
        "ai",
        env={
            "GLEANER_OPENAI_API_KEY": SERVER_KEY,
            # the operator opened exactly the tenant's model server: the other port stays closed
            "GLEANER_FETCH_ALLOW_NETWORKS": f"127.0.0.1:{tenant_port}",
        },
    )
    outcome = {}
    for name, task_id in tasks.items():
        (item,) = get_task(runtime, task_id).items
        outcome[name] = (item.status, item.error_code)
    assert outcome == {
        "tenant": ("completed", None),
        "keyless": (
            "failed",
            "http_401",
        ),  # no key of its own: sent none, never the server's
        "closed": ("failed", "blocked_address"),
        "operator": ("completed", None),
        "foreign": ("failed", "model_not_found"),
    }
    assert {h["authorization"] for h in tenant.headers} == {
        f"Bearer {TENANT_KEY}",
        "Bearer not-set",
    }
    assert {h["authorization"] for h in operator.headers} == {f"Bearer {SERVER_KEY}"}
    assert closed.requests == []
