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
def api_key(runtime: Runtime) -> str:
    with session_scope(runtime.sessions) as session:
        _, key = create_api_key(session, "test", "alice")
    return key


@pytest.fixture
def other_key(runtime: Runtime) -> str:
    with session_scope(runtime.sessions) as session:
        _, key = create_api_key(session, "test", "bob")
    return key


@pytest.fixture
def client(settings: Settings, runtime: Runtime, api_key: str) -> Iterator[TestClient]:
    """The real app with its lifespan, authenticated as owner "alice"."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {api_key}"
        yield test_client
