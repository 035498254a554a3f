"""The page in Debian's headless Chromium, driven by Playwright, against one real stack per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from gleaner.apikeys import create_api_key
from gleaner.db import make_engine, make_sessionmaker, session_scope
from tests import stack as harness
from tests.stack import ROOT, LocalStack

# the shared stack fixtures (tests.stack): one page server and one stack per module
pages = harness.pages
stack = harness.stack

CHROMIUM = Path("/usr/bin/chromium")

# As the machine notes say: without the background-networking flags Chromium keeps trying hosts
# that this closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ARTIFACTS = ROOT / "test-artifacts" / "web"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's chromium is not installed (/usr/bin/chromium): run `make tools-web`"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def api_key(stack: LocalStack) -> str:
    engine = make_engine(stack.env["GLEANER_DATABASE_URL"])
    with session_scope(make_sessionmaker(engine)) as session:
        _, key = create_api_key(session, "web", "alice", operator=True)
    engine.dispose()
    stack.wait_ready(key)
    return key


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
