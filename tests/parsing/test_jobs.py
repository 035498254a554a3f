"""The parsing stage end to end: tasks submitted like the API does, real parsing workers, a real page server.

The workers reach the page server through GLEANER_FETCH_ALLOW_NETWORKS=127.0.0.1:<port> (that exact
port only); everything else they are asked to fetch here is refused or fails by its own error code.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest
from rq import Queue
from sqlalchemy import func, select

from gleaner.db import session_scope
from gleaner.models import ParsedContent, ProcessingTask, TaskItem
from gleaner.runtime import Runtime
from gleaner.tasks import ItemInput
from tests.factories import get_task, submit_task
from tests.parsing import pages
from tests.parsing.server import PageServer


@pytest.fixture
def page_server() -> Iterator[PageServer]:
    server = PageServer().start()
    yield server
    server.stop()


@pytest.fixture
def parsing_env(test_env: dict[str, str], page_server: PageServer) -> dict[str, str]:
    env = {
        "GLEANER_FETCH_ALLOW_NETWORKS": f"127.0.0.1:{page_server.port}",
        "GLEANER_FETCH_TIMEOUT_SECONDS": "5",
        "GLEANER_FETCH_MAX_BYTES": str(1024 * 1024),
    }
    test_env.update(env)
    return env


def drain(
    runtime: Runtime, task_id: int, run_worker: Callable[..., object], rounds: int = 8
) -> ProcessingTask:
    """Burst workers until the task is finished. Each burst start also enqueues the retries that are
    due (RQ's scheduler), so a 429's Retry-After delay is honoured without a long-running worker."""
    for _ in range(rounds):
        run_worker("parsing")
        task = get_task(runtime, task_id)
        if task.finished_items == task.total_items:
            return task
        time.sleep(1.0)  # the shortest Retry-After the server sends
    raise AssertionError([(i.status, i.error_code, i.attempts) for i in task.items])


def parsed_for(runtime: Runtime, item: TaskItem) -> ParsedContent:
    with session_scope(runtime.sessions) as session:
        return session.get_one(ParsedContent, item.parsed_content_id)


@pytest.mark.usefixtures("parsing_env")
class TestParsingStage:
    def test_pages_become_clean_parsed_content_and_failures_carry_their_codes(
        self,
        runtime: Runtime,
        page_server: PageServer,
        run_worker: Callable[..., subprocess.CompletedProcess[str]],
    ) -> None:
        urls = {
            "news": page_server.url("/news"),
            "blog": page_server.url("/blog"),
            "latin": page_server.url("/latin1-header"),
            "chain": page_server.url("/redirect/3"),
            "flaky": page_server.url("/flaky/e2e"),
            "limited": page_server.url("/limited/e2e"),
            "missing": page_server.url("/status/404"),
            "metadata": page_server.url(
                "/to?url=" + quote("http://169.254.169.254/latest/meta-data/", safe="")
            ),
            "loopback": page_server.url(
                "/to?url=" + quote("http://127.0.0.1:22/", safe="")
            ),
            "file": page_server.url("/to?url=" + quote("file:///etc/passwd", safe="")),
            "huge": page_server.url("/huge"),
            "pdf": page_server.url("/pdf"),
            "empty": page_server.url("/empty"),
        }
        task_id = submit_task(runtime, urls=list(urls.values()), stages=("parsing",))
        task = drain(runtime, task_id, run_worker)
        by_url = dict(zip(urls.values(), task.items, strict=True))
        item = {name: by_url[url] for name, url in urls.items()}

        for name in ("news", "blog", "latin", "chain", "flaky", "limited"):
            assert item[name].status == "completed", (
                name,
                item[name].error_code,
                item[name].error_message,
            )
        news = parsed_for(runtime, item["news"])
        assert all(marker in news.text for marker in pages.ARTICLE_MARKERS)
        assert not any(marker in news.text for marker in pages.BOILERPLATE_MARKERS)
        assert news.title == "Council votes to turn rail yard into park"
        assert news.author == "Jane Whitfield"
        assert news.language == "en-gb"
        assert news.word_count > 100
        assert len(news.content_hash) == 64
        assert item["news"].result_data["parsing"]["title"] == news.title
        assert all(
            marker in parsed_for(runtime, item["latin"]).text
            for marker in pages.LATIN_MARKERS
        )
        assert parsed_for(runtime, item["chain"]).final_url == page_server.url("/news")
        assert item["flaky"].attempts == 2
        assert item["limited"].attempts == 2

        expected = {
            "missing": "http_404",
            "metadata": "blocked_address",
            "loopback": "blocked_address",
            "file": "unsupported_scheme",
            "huge": "too_large",
            "pdf": "unsupported_content_type",
            "empty": "no_content",
        }
        for name, code in expected.items():
            assert (item[name].status, item[name].error_code) == ("failed", code), item[
                name
            ].error_message
            assert item[name].attempts == 1  # permanent: no retry
        assert "404" in (item["missing"].error_message or "")
        assert task.status == "partially_failed"

    def test_item_moves_to_the_ai_stage_and_a_second_parse_updates_the_same_row(
        self,
        runtime: Runtime,
        page_server: PageServer,
        run_worker: Callable[..., subprocess.CompletedProcess[str]],
    ) -> None:
        first = submit_task(
            runtime, urls=[page_server.url("/news")], stages=("parsing", "ai")
        )
        run_worker("parsing")
        item = get_task(runtime, first).items[0]
        assert (item.stage, item.status) == ("ai", "queued")
        assert Queue("ai", connection=runtime.redis).job_ids == [item.job_id]

        link_id = item.link_id
        assert link_id is not None
        again = submit_task(
            runtime,
            [ItemInput(item_id=link_id, item_type="link", link_id=link_id)],
            stages=("parsing",),
        )
        run_worker("parsing")
        second = get_task(runtime, again).items[0]
        assert second.status == "completed"
        assert second.parsed_content_id == item.parsed_content_id
        with session_scope(runtime.sessions) as session:
            rows = session.scalar(
                select(func.count())
                .select_from(ParsedContent)
                .where(ParsedContent.link_id == link_id)
            )
        assert rows == 1
