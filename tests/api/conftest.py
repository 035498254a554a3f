from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from gleaner.runtime import Runtime
from gleaner.settings import Settings
from gleaner_api.app import create_app


@pytest.fixture
def client(settings: Settings, runtime: Runtime, api_key: str) -> Iterator[TestClient]:
    """The real app with its lifespan, authenticated as owner "alice"."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {api_key}"
        yield test_client
