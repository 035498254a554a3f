"""`python -m bench.worker.rqworker fork|simple`: RQ's own workers on the parsing queues, burst mode."""

from __future__ import annotations

import os
import sys

from redis import Redis
from rq import SimpleWorker, Worker

from gleaner.queues import worker_queues


def main() -> int:
    kind = sys.argv[1]
    redis = Redis.from_url(os.environ["GLEANER_REDIS_URL"])
    worker_class = {"fork": Worker, "simple": SimpleWorker}[kind]
    worker = worker_class(worker_queues(redis, "parsing"), connection=redis)
    worker.log_job_description = False
    worker.work(burst=True, logging_level="WARNING")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
