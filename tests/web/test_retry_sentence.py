"""The web page says, in words, when an item waiting for its next attempt runs again, which attempt it
is and why the last one failed: "retrying in N s (attempt 2 of 3): code — message", counting down.

Its own stack (retries 15 s apart, a reconciler to run them) so a slow machine still finds the retry
waiting when the browser looks; the page answers 503 until the test fixes it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.stack import LocalStack, PageServer

RETRY_DELAY_SECONDS = 15
SEEN_TIMEOUT_MS = 60_000

SENTENCE = re.compile(
    r"retrying in (\d+) s \(attempt [23] of 3\): http_503 — "
    r"HTTP 503 from http://127\.0\.0\.1:\d+/unavailable/zeta"
)


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, pages: PageServer
) -> Iterator[LocalStack]:
    local = LocalStack(
        tmp_path_factory.mktemp("stack"),
        pages,
        env={
            "GLEANER_PARSING_RETRY_DELAYS": f"0,{RETRY_DELAY_SECONDS}",
            "GLEANER_RECONCILE_INTERVAL_SECONDS": "1",
        },
        reconciler=True,
    ).start()
    yield local
    local.stop()


@pytest.fixture
def page(browser: Browser, stack: LocalStack, api_key: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(stack.api_url + "/")
    yield tab
    context.close()
    assert not errors, f"the page's script failed: {errors}"


def seconds_left(page: Page) -> int:
    match = SENTENCE.search(page.locator("#item-list").inner_text())
    assert match, page.locator("#item-list").inner_text()
    return int(match.group(1))


def test_a_waiting_retry_reads_as_a_sentence_that_counts_down(
    page: Page, pages: PageServer, api_key: str
) -> None:
    page.get_by_label("API key").fill(api_key)
    page.get_by_role("button", name="Save key").click()
    page.get_by_label("Links, one per line").fill(pages.url("/unavailable/zeta"))
    page.get_by_role("button", name="Start pipeline").click()

    items = page.locator("#item-list")
    expect(items).to_contain_text(SENTENCE, timeout=SEEN_TIMEOUT_MS)
    first = seconds_left(page)
    assert 0 <= first <= RETRY_DELAY_SECONDS
    if first >= 4:  # seen early enough to watch it count
        time.sleep(2.2)  # no event comes while it waits: the page's own clock moves it
        assert seconds_left(page) < first

    pages.fix("zeta")  # the next attempt succeeds, and the sentence goes
    expect(page.locator("#task-view")).to_have_attribute(
        "data-status", "completed", timeout=SEEN_TIMEOUT_MS
    )
    expect(items).not_to_contain_text("retrying in")
