"""Faults with real processes: workers SIGKILLed again and again, Redis restarted, PostgreSQL stopped,
SIGTERM during a long job. Each test owns its Redis and its PostgreSQL cluster, a local page server for
the parsing stage and a local Notion API for the notion stage; the reconciler runs as its own process.
"""

from __future__ import annotations

import random
import signal
import time

import httpx
import pytest
from sqlalchemy import select

from gleaner.db import session_scope
from gleaner.models import ItemAttempt, TaskItem
from gleaner.runtime import Runtime
from gleaner.settings import Stage
from tests.factories import get_task, submit_task
from tests.faults.conftest import API_KEY
from tests.faults.outcome import (
    failure_reasons,
    failures_without_reason,
    is_finished,
    item_states,
    stage_runs_completed,
)
from tests.faults.stack import PostgresServer, Processes, RedisServer, wait_until
from tests.notion.notion_server import NotionServer
from tests.parsing.server import PageServer
from tests.servers import free_port

PIPELINE: tuple[Stage, ...] = ("parsing", "ai", "notion")


def submit_pipeline(
    runtime: Runtime, pages: PageServer, notion: NotionServer, count: int
) -> int:
    database = notion.add_database()
    urls = [pages.url(f"/news?n={n}") for n in range(count)]
    return submit_task(
        runtime,
        urls=urls,
        stages=PIPELINE,
        config={"notion": {"database_id": database.id}},
    )


def assert_nothing_lost(
    runtime: Runtime, task_id: int, total: int, notion: NotionServer | None = None
) -> None:
    states = item_states(runtime, task_id)
    assert sum(states.values()) == total
    assert states["completed"] + states["failed"] == total, states
    assert failures_without_reason(runtime, task_id) == []
    if notion is not None:
        pages = notion.pages_by_url()
        duplicates = {url: n for url, n in pages.items() if n > 1}
        assert duplicates == {}, f"duplicate Notion pages: {duplicates}"
        assert len(pages) >= states["completed"]


STORM_LAYOUT: tuple[Stage, ...] = ("parsing", "parsing", "ai", "ai", "notion", "notion")
STORM_ROUNDS = 8
"""Kill rounds, one each time another tenth of the pipeline's stage runs has completed (10 % … 80 %):
the kills span the whole run however fast the machine is, and their cost is fixed."""
STORM_KILLS_PER_ROUND = 3
"""Workers SIGKILLed at once in a round: fewer, heavier rounds cost fewer worker start-ups (each
replacement imports the whole stack) than one kill a second, and a round may take out every worker
of a stage at once, so its jobs wait in Redis with no one to run them."""


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_random_workers_during_a_1000_item_pipeline(
    stack_runtime: Runtime,
    procs: Processes,
    page_server: PageServer,
    notion: NotionServer,
) -> None:
    """A SIGKILL storm through the whole run: 8 rounds of 3 random workers killed at once, each
    replaced, spread over the run by its progress. Not one item lost, not one Notion page twice; a
    kill is the only failure."""
    total = 1000
    task_id = submit_pipeline(stack_runtime, page_server, notion, total)
    procs.reconciler()
    workers = {procs.worker(stage): stage for stage in STORM_LAYOUT}
    rng = random.Random(9)
    rounds = kills = 0
    # a hang guard, not a speed figure (bench/worker has those): far above a quiet run's time
    deadline = time.monotonic() + 540
    while not is_finished(stack_runtime, task_id, total):
        assert time.monotonic() < deadline, (
            f"not finished: {item_states(stack_runtime, task_id)}\n{procs.tail()}"
        )
        time.sleep(0.5)
        progress = stage_runs_completed(stack_runtime, task_id) / (
            len(PIPELINE) * total
        )
        if rounds == STORM_ROUNDS or progress < (rounds + 1) / (STORM_ROUNDS + 2):
            continue
        victims = rng.sample(list(workers), STORM_KILLS_PER_ROUND)
        for victim in victims:  # all killed before any replacement starts
            victim.send_signal(signal.SIGKILL)
        for victim in victims:
            victim.wait(10)
            stage = workers.pop(victim)
            workers[procs.worker(stage)] = stage
        rounds += 1
        kills += len(victims)
    assert kills == STORM_ROUNDS * STORM_KILLS_PER_ROUND, (
        "the pipeline finished before the workers were killed often enough to mean anything"
    )
    assert_nothing_lost(stack_runtime, task_id, total, notion)
    reasons = failure_reasons(stack_runtime, task_id)
    assert set(reasons) <= {"worker_lost"}, (
        reasons
    )  # a kill is the only reason an item may fail here


def test_redis_restart_mid_run_loses_nothing(
    stack_runtime: Runtime,
    procs: Processes,
    fault_redis: RedisServer,
    page_server: PageServer,
    notion: NotionServer,
) -> None:
    total = 120
    task_id = submit_pipeline(stack_runtime, page_server, notion, total)
    procs.reconciler()
    for stage in PIPELINE:
        procs.worker(stage)
    wait_until(
        lambda: item_states(stack_runtime, task_id)["completed"] >= 10,
        60,
        "the first items to complete",
    )
    fault_redis.restart(
        down_seconds=1.0
    )  # nothing persisted: queues, registries and workers are gone
    try:
        wait_until(
            lambda: is_finished(stack_runtime, task_id, total),
            60,
            "every item to finish",
        )
    except AssertionError:
        raise AssertionError(
            f"{item_states(stack_runtime, task_id)}\n{procs.tail(60)}"
        ) from None
    assert_nothing_lost(stack_runtime, task_id, total, notion)
    assert item_states(stack_runtime, task_id)["completed"] == total


def test_postgres_stop_mid_run_api_answers_503_and_workers_resume(
    stack_runtime: Runtime,
    procs: Processes,
    postgres: PostgresServer,
    page_server: PageServer,
    notion: NotionServer,
) -> None:
    total = 60
    task_id = submit_pipeline(stack_runtime, page_server, notion, total)
    port = free_port()
    procs.api(port)
    procs.reconciler()
    for stage in PIPELINE:
        procs.worker(stage)
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {API_KEY}"},
    )

    def api_up() -> bool:
        try:
            return client.get(f"/api/tasks/{task_id}").status_code == 200
        except httpx.TransportError:
            return False

    wait_until(api_up, 30, "the API")
    wait_until(
        lambda: item_states(stack_runtime, task_id)["completed"] >= 5,
        60,
        "the first items to complete",
    )
    postgres.stop()
    answer = client.get(f"/api/tasks/{task_id}")
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["error"]["code"] == "database_unavailable"
    assert client.get("/readyz").status_code == 503
    time.sleep(3)  # workers now wait on the database with their jobs in hand
    postgres.start()
    wait_until(
        lambda: is_finished(stack_runtime, task_id, total), 120, "every item to finish"
    )
    assert_nothing_lost(stack_runtime, task_id, total, notion)
    assert item_states(stack_runtime, task_id)["completed"] == total
    assert client.get(f"/api/tasks/{task_id}").status_code == 200
    client.close()


@pytest.mark.parametrize(
    ("grace", "outcome"),
    [("30", ["completed"]), ("0.5", ["requeued", "completed"])],
    ids=["finishes-within-grace", "requeued-past-grace"],
)
def test_sigterm_during_a_long_job(
    stack_runtime: Runtime, procs: Processes, grace: str, outcome: list[str]
) -> None:
    task_id = submit_task(
        stack_runtime,
        urls=["https://example.com/long"],
        job_path="tests.jobs.sleep_configured",
        config={"sleep_seconds": 3},
    )
    env = {
        "GLEANER_WORKER_SHUTDOWN_GRACE_SECONDS": grace,
        "GLEANER_WORKER_CONCURRENCY": "1",
    }
    first = procs.worker("parsing", env=env)
    wait_until(
        lambda: get_task(stack_runtime, task_id).items[0].status == "running",
        30,
        "the job to start",
    )
    first.send_signal(signal.SIGTERM)
    assert first.wait(30) == 0
    procs.worker("parsing")  # the next pod picks up whatever went back to the queue
    wait_until(
        lambda: get_task(stack_runtime, task_id).status == "completed",
        30,
        "the task to complete",
    )
    with session_scope(stack_runtime.sessions) as session:
        attempts = session.execute(
            select(ItemAttempt.number, ItemAttempt.outcome)
            .join(TaskItem)
            .where(TaskItem.task_id == task_id)
            .order_by(ItemAttempt.id)
        ).all()
    assert [o for _, o in attempts] == outcome
    assert [n for n, _ in attempts] == [1] * len(
        outcome
    )  # the requeue did not spend the attempt
