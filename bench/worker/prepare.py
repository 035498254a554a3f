"""`python -m bench.worker.prepare SYSTEM JOB COUNT`: enqueue a run's jobs before its worker starts.

Runs with the code under test on its path (this branch's or the baseline's), so a stage job's items are
created and enqueued exactly as that code does it: a two-stage task (parsing → ai) per run, so every
parsing job also moves its item on and enqueues the ai job, as a middle stage does.
"""

from __future__ import annotations

import sys
from dataclasses import replace


def enqueue_rq(job: str, count: int) -> None:
    from redis import Redis
    from rq import Queue

    from gleaner.settings import load_settings

    redis = Redis.from_url(load_settings().REDIS_URL)
    queue = Queue("parsing", connection=redis)
    data = [
        Queue.prepare_data(f"bench.worker.jobs.{job}", timeout=60, result_ttl=0)
        for _ in range(count)
    ]
    with redis.pipeline() as pipe:
        queue.enqueue_many(data, pipeline=pipe)
        pipe.execute()


def enqueue_stage(job: str, count: int) -> None:
    from gleaner.db import migrate, session_scope
    from gleaner.models import TaskType
    from gleaner.queues import enqueue_item_jobs
    from gleaner.runtime import Runtime
    from gleaner.settings import load_settings
    from gleaner.tasks import ItemInput, create_task

    settings = load_settings()
    migrate(settings.database_url)
    runtime = Runtime.start(settings)
    with session_scope(runtime.sessions) as session:
        _, item_jobs = create_task(
            session,
            owner="bench",
            task_type=TaskType.PIPELINE,
            stages=["parsing", "ai"],
            inputs=[ItemInput(item_id=n, item_type="link") for n in range(count)],
        )
    path = f"bench.worker.jobs.{job}"
    enqueue_item_jobs(
        runtime.redis, settings, [replace(j, job_path=path) for j in item_jobs]
    )
    runtime.close()


def enqueue_dramatiq(job: str, count: int) -> None:
    from bench.worker import dramatiq_app

    actor = getattr(dramatiq_app, job)
    for _ in range(count):
        actor.send()


def main() -> None:
    system, job, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if system == "dramatiq":
        enqueue_dramatiq(job, count)
    elif job.startswith("stage"):
        enqueue_stage(job, count)
    else:
        enqueue_rq(job, count)


if __name__ == "__main__":
    main()
