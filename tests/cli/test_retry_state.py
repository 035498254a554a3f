"""While an item waits for its next attempt, every view says so in words: when, which attempt, why.

Its own stack (retries 15 s apart) and its own API key; the page answers 503 until the test fixes it.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.cli.conftest import CLI_TIMEOUT_SECONDS, GLEANER, Run
from tests.stack import LocalStack, PageServer

RETRY_DELAY_SECONDS = 15
"""Attempts at 0, 15 and 30 s: a slow machine still finds a retry waiting when it looks."""

RETRYING = re.compile(
    r"retrying in (\d+) s \(attempt [23] of 3\): http_503 — HTTP 503 from http://127\.0\.0\.1:\d+/unavailable/epsilon"
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


def task_id_of(output: str) -> int:
    match = re.search(r"task (\d+)", output)
    assert match, output
    return int(match.group(1))


def first_event(stack: LocalStack, key: str, task_id: int) -> dict[str, object]:
    """The first `progress` event of the task's stream, read by a plain HTTP client."""
    url = f"{stack.api_url}/api/tasks/{task_id}/events"
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.stream("GET", url, headers=headers, timeout=10) as response:
        event = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "progress":
                return json.loads(line.split(":", 1)[1])  # type: ignore[no-any-return]
    raise AssertionError("no progress event")


def test_a_waiting_retry_is_shown_with_its_time_attempt_and_reason(
    gleaner: Run,
    pages: PageServer,
    stack: LocalStack,
    api_key: str,
    client_env: dict[str, str],
) -> None:
    submitted = gleaner("submit", pages.url("/unavailable/epsilon"))
    assert submitted.returncode == 0, submitted.stderr
    task_id = task_id_of(submitted.stdout)

    deadline = time.monotonic() + 60
    while not RETRYING.search(status := gleaner("status", str(task_id)).stdout):
        assert time.monotonic() < deadline, status
        time.sleep(0.3)
    assert int(RETRYING.search(status).group(1)) <= RETRY_DELAY_SECONDS  # type: ignore[union-attr]

    item = first_event(stack, api_key, task_id)["items"][0]  # type: ignore[index]
    assert item["status"] == "queued"
    assert (item["error_code"], item["max_attempts"]) == ("http_503", 3)
    assert item["retry_at"] is not None

    # `--watch` into a pipe: plain lines as things change, the retry among them, then the end.
    # The page is fixed only once the watcher has printed the waiting retry.
    watcher = subprocess.Popen(
        [GLEANER, "status", str(task_id), "--watch"],
        env={**client_env, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert watcher.stdout is not None
        for line in watcher.stdout:
            lines.append(line)
            if RETRYING.search(line):
                pages.fix("epsilon")
        watcher.wait(CLI_TIMEOUT_SECONDS)
    finally:
        watcher.kill()
    output = "".join(lines)
    assert watcher.returncode == 0, output
    assert any(RETRYING.search(line) for line in lines), output
    assert "notion: 1/1" in output
    assert "\x1b[" not in output  # no terminal control codes in a pipe
