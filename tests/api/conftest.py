from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from gleaner.apikeys import create_api_key
from gleaner.db import session_scope
from gleaner.runtime import Runtime
from gleaner.settings import Settings
from gleaner_api.app import create_app


@pytest.fixture
def client(settings: Settings, runtime: Runtime, api_key: str) -> Iterator[TestClient]:
    """The real app with its lifespan, authenticated as owner "alice"."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {api_key}"
        yield test_client


@pytest.fixture
def operator(client: TestClient, runtime: Runtime) -> Iterator[TestClient]:
    """The same app with an operator's key: monitoring that spans every tenant is for operators."""
    with session_scope(runtime.sessions) as session:
        _, key = create_api_key(session, "ops", "ops", operator=True)
    with TestClient(client.app, raise_server_exceptions=False) as ops:
        ops.headers["Authorization"] = f"Bearer {key}"
        yield ops
