from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from sqlalchemy import func, select, update

from gleaner.db import session_scope
from gleaner.models import ItemAttempt, Link, ProcessingTask, TaskItem, utcnow
from gleaner.runtime import Runtime
from tests.conftest import ROOT, RunWorker
from tests.factories import submit_task


def age(runtime: Runtime, task_id: int, days: int, status: str) -> None:
    with session_scope(runtime.sessions) as session:
        session.execute(
            update(ProcessingTask)
            .where(ProcessingTask.id == task_id)
            .values(status=status, completed_at=utcnow() - timedelta(days=days))
        )


def test_retention_deletes_old_tasks_and_keeps_content(
    runtime: Runtime, run_worker: RunWorker, test_env: dict[str, str]
) -> None:
    old_done = submit_task(
        runtime, urls=["https://example.com/1"], job_path="tests.jobs.succeed"
    )
    recent_done = submit_task(
        runtime, urls=["https://example.com/2"], job_path="tests.jobs.succeed"
    )
    old_failed = submit_task(
        runtime, urls=["https://example.com/3"], job_path="tests.jobs.fail_permanently"
    )
    run_worker("parsing")
    age(runtime, old_done, 8, "completed")  # past 7 days
    age(runtime, recent_done, 6, "completed")
    age(runtime, old_failed, 8, "failed")  # failed ones stay 30 days

    result = subprocess.run(
        [sys.executable, "-m", "gleaner_api", "retention"],
        env={**test_env, "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "deleted 1 completed and 0 failed tasks" in result.stdout
    with session_scope(runtime.sessions) as session:
        remaining = set(session.scalars(select(ProcessingTask.id)))
        assert remaining == {recent_done, old_failed}
        assert session.scalar(select(func.count()).select_from(TaskItem)) == 2
        attempts = session.scalars(select(ItemAttempt.item_id)).all()
        assert len(attempts) == 2
        assert (
            session.scalar(select(func.count()).select_from(Link)) == 3
        )  # content stays
