from gleaner.runtime import Runtime
from tests.conftest import RunWorker
from tests.factories import get_task, submit_task


def test_worker_runs_test_job(runtime: Runtime, run_worker: RunWorker) -> None:
    task_id = submit_task(
        runtime,
        urls=["https://example.com/1", "https://example.com/2"],
        job_path="tests.jobs.succeed",
    )
    run_worker("parsing")
    task = get_task(runtime, task_id)
    assert task.status == "completed", [(i.status, i.error_message) for i in task.items]
    assert task.completed_items == 2
