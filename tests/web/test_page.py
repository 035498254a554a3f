"""The web page in a real browser: paste links, watch each item's stages live, retry the failed one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.stack import LocalStack, PageServer

DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
FINISH_TIMEOUT_MS = 45_000


@pytest.fixture
def page(browser: Browser, stack: LocalStack, api_key: str) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(stack.api_url + "/")
    yield tab
    context.close()
    assert not errors, f"the page's script failed: {errors}"


def save_key(page: Page, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Save key").click()
    expect(page.locator("#key-status")).to_have_text("Key saved in this browser.")


def submit(page: Page, urls: list[str]) -> None:
    page.get_by_label("Links, one per line").fill("\n".join(urls))
    start = page.get_by_role("button", name="Start pipeline")
    start.focus()
    page.keyboard.press("Enter")  # the form works from the keyboard


class TestPipelinePage:
    def test_submit_watch_live_and_retry_failed(
        self, page: Page, pages: PageServer, api_key: str, artifacts: Path
    ) -> None:
        save_key(page, api_key)
        slow = [pages.url("/slow/w1"), pages.url("/slow/w2")]
        broken = pages.url("/fixable/wbad")
        submit(page, [*slow, broken])

        view = page.locator("#task-view")
        expect(view).to_be_visible()
        # Live: with one parsing job at a time, later links show their place in the queue.
        expect(page.locator("#item-list")).to_contain_text(
            "in the parsing queue", timeout=FINISH_TIMEOUT_MS
        )
        expect(page.locator("#item-list .chip.state-running").first).to_be_visible(
            timeout=FINISH_TIMEOUT_MS
        )
        page.screenshot(path=str(artifacts / "desktop-running.png"), full_page=True)

        expect(view).to_have_attribute(
            "data-status", "partially_failed", timeout=FINISH_TIMEOUT_MS
        )
        for url in slow:
            row = page.locator(
                "#item-list > li", has=page.locator(f'a.url[href="{url}"]')
            )
            expect(row).to_have_attribute("data-status", "completed")
            expect(row).to_contain_text(
                "dry run"
            )  # no Notion token: the page is planned, not made
        failed = page.locator(
            "#item-list > li", has=page.locator(f'a.url[href="{broken}"]')
        )
        expect(failed).to_have_attribute("data-status", "failed")
        expect(failed).to_contain_text(f"http_404: HTTP 404 from {broken}")
        expect(page.get_by_role("button", name="Cancel")).to_be_disabled()
        expect(page.locator("#task-summary")).to_have_attribute("aria-live", "polite")
        expect(page.locator("#task-summary")).to_contain_text("2 done, 1 failed")
        page.screenshot(path=str(artifacts / "desktop-failed.png"), full_page=True)

        pages.fix("wbad")
        page.get_by_role("button", name="Retry failed").click()
        expect(view).to_have_attribute(
            "data-status", "completed", timeout=FINISH_TIMEOUT_MS
        )
        expect(failed).to_have_attribute("data-status", "completed")
        expect(failed).to_contain_text("dry run")
        expect(page.locator("#task-summary")).to_contain_text("3 done, 0 failed")
        page.get_by_role("button", name="Refresh").last.click()
        expect(page.locator("#workers-table tbody tr")).to_have_count(3)
        expect(page.locator("#task-list")).to_contain_text("completed")
        page.screenshot(path=str(artifacts / "desktop-done.png"), full_page=True)

        page.set_viewport_size(PHONE)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (
            f"the page is {width}px wide on a {PHONE['width']}px screen"
        )
        page.screenshot(path=str(artifacts / "phone.png"), full_page=True)

    def test_a_task_opens_from_the_list_after_a_reload(
        self, page: Page, pages: PageServer, api_key: str
    ) -> None:
        save_key(page, api_key)
        url = pages.url("/article/listed")
        submit(page, [url])
        expect(page.locator("#task-view")).to_have_attribute(
            "data-status", "completed", timeout=FINISH_TIMEOUT_MS
        )
        task_id = page.locator("#task-view").get_attribute("data-task-id")
        page.goto(
            page.url.split("#")[0]
        )  # a fresh load: the key comes back from localStorage
        page.get_by_role("link", name=f"Task {task_id}", exact=True).click()
        row = page.locator("#item-list > li", has=page.locator(f'a.url[href="{url}"]'))
        expect(row).to_have_attribute(
            "data-status", "completed"
        )  # its URL looked up from the link id

    def test_a_wrong_key_is_said_in_one_line(self, page: Page) -> None:
        save_key(page, "glr_not-a-key")
        submit(page, ["https://example.com/never-fetched"])
        expect(page.locator("#submit-status")).to_have_text(
            "the API key is not valid or was revoked (invalid_api_key)"
        )


class TestSchedules:
    def test_create_run_now_and_pause(
        self, page: Page, pages: PageServer, api_key: str, artifacts: Path
    ) -> None:
        save_key(page, api_key)
        page.get_by_label("Name", exact=True).fill("web schedule")
        page.get_by_label("Cron").fill("0 7 * * *")
        page.get_by_label("Time zone").fill("Europe/Paris")
        page.get_by_label("Links each firing runs").fill(
            pages.url("/article/scheduled")
        )
        page.get_by_role("button", name="Create schedule").click()
        expect(page.locator("#schedule-status")).to_contain_text("fires next at")
        row = page.locator("#schedules-table tbody tr", has_text="web schedule")
        expect(row).to_contain_text("cron 0 7 * * * (Europe/Paris)")
        expect(row).to_contain_text("never fired")
        row.get_by_role("button", name="Run now").click()
        expect(row).to_contain_text(": task ")  # the last firing and the task it made
        row.get_by_role("button", name="Pause").click()
        expect(row.get_by_role("button", name="Resume")).to_be_visible()
        expect(row).to_contain_text("paused")
        page.screenshot(path=str(artifacts / "schedules.png"), full_page=True)

    def test_a_feed_schedule_shows_its_feed_and_last_outcome(
        self, page: Page, pages: PageServer, api_key: str
    ) -> None:
        save_key(page, api_key)
        feed = pages.url("/article/not-a-feed")  # a page, not RSS or Atom
        page.get_by_label("Name", exact=True).fill("web feed")
        page.get_by_label("Every … seconds").fill("3600")
        page.get_by_label("Or an RSS/Atom feed").fill(feed)
        page.get_by_role("button", name="Create schedule").click()
        expect(page.locator("#schedule-status")).to_contain_text("fires next at")
        row = page.locator("#schedules-table tbody tr", has_text="web feed")
        expect(row).to_contain_text(f"feed {feed}")
        row.get_by_role("button", name="Run now").click()
        expect(page.locator("#schedule-status")).to_contain_text(
            "web feed: reading the feed"
        )
        deadline = time.monotonic() + 60
        while "failed: feed_invalid" not in row.inner_text():
            assert time.monotonic() < deadline, row.inner_text()
            page.reload()  # the list is read when the page opens
            time.sleep(1)


class TestWebhooks:
    def test_add_shows_the_secret_once_and_lists_it(
        self, page: Page, api_key: str, artifacts: Path
    ) -> None:
        save_key(page, api_key)
        page.get_by_label("Receiver URL").fill("http://10.0.0.1/hook")
        page.get_by_role("button", name="Add webhook").click()
        expect(page.locator("#webhook-status")).to_contain_text("invalid_webhook_url")
        page.get_by_label("Receiver URL").fill("https://hooks.example.org/web")
        page.get_by_label("also per item").check()
        page.get_by_role("button", name="Add webhook").click()
        expect(page.locator("#webhook-status")).to_contain_text("whsec_")
        row = page.locator("#webhooks-table tbody tr", has_text="hooks.example.org/web")
        expect(row).to_contain_text("every task, per item")
        expect(row).to_contain_text("none yet")
        page.screenshot(path=str(artifacts / "webhooks.png"), full_page=True)
