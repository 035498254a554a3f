"""What a failed item leaves in a worker's log: one line with its code and reason when the failure was
expected and classified; the traceback only for an unexpected exception (a bug to look at)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from gleaner.runtime import Runtime
from tests.factories import submit_task

RunWorker = Callable[..., subprocess.CompletedProcess[str]]


def test_an_expected_failure_is_one_line_with_code_and_reason(
    runtime: Runtime, run_worker: RunWorker
) -> None:
    submit_task(
        runtime,
        urls=["https://example.com/gone"],
        job_path="tests.jobs.fail_permanently",
    )
    log = run_worker("parsing").stderr
    failed = [line for line in log.splitlines() if "item_failed" in line]
    assert len(failed) == 1, log
    assert "code=http_404" in failed[0]
    assert "the page answered 404" in failed[0]
    assert "Traceback" not in log, log
    assert not [line for line in log.splitlines() if line.startswith("{")], (
        log
    )  # no JSON on a console


def test_an_unexpected_exception_keeps_its_traceback(
    runtime: Runtime, run_worker: RunWorker
) -> None:
    submit_task(runtime, urls=["https://example.com/bug"], job_path="tests.jobs.crash")
    log = run_worker("parsing", env={"GLEANER_PARSING_MAX_ATTEMPTS": "1"}).stderr
    assert "code=internal_error" in log, log
    assert log.count("Traceback") == 1, (
        log
    )  # ours; RQ's copy of the same failure is dropped
    assert "ValueError: a bug, not a classified failure" in log
