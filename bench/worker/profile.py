"""Where a worker's CPU goes: py-spy samples one worker process draining a queue of jobs.

    uv run python -m bench.worker.profile stage_noop 3000 [--threads 4] [--postgres URL]

Enqueues COUNT jobs (bench.worker.prepare), runs Gleaner's worker in burst mode under `py-spy record`
(GIL-holding samples only, all threads, start-up included), then prints the share of samples that
pass through each of a few markers (the job runner's SQL, SQLAlchemy, RQ's loop, Redis, logging,
imports) and the functions most often on top of the stack.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.worker.run import ROOT, private_backends

MARKERS = {
    "import (start-up)": "_find_and_load",
    "job runner: claim (gleaner.items.claim_item)": "claim_item (gleaner/items.py",
    "job runner: complete (gleaner.items.complete_stage)": "complete_stage (gleaner/items.py",
    "job runner: next stage's enqueue": "enqueue_item_jobs (gleaner/queues.py",
    "SQLAlchemy (any)": "sqlalchemy/",
    "SQLAlchemy: commit": "commit (sqlalchemy/",
    "sqlite3 / psycopg driver calls": "do_execute (sqlalchemy/engine/default.py",
    "RQ worker loop (any)": "rq/",
    "RQ: dequeue": "dequeue_job_and_maintain_ttl",
    "RQ: prepare": "prepare_job_execution",
    "RQ: success": "handle_job_success",
    "Redis client (any)": "redis/",
    "logging": "logging/",
    "prometheus_client": "prometheus_client/",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("job")
    parser.add_argument("count", type=int)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--postgres", default="")
    parser.add_argument("--rate", type=int, default=250)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        private_backends(Path(tmp), args.postgres) as (url, database_url),
    ):
        workdir = Path(tmp)
        env = {
            **os.environ,
            "BENCH_REDIS_URL": url,
            "GLEANER_REDIS_URL": url,
            "GLEANER_DATABASE_URL": database_url,
            "GLEANER_WORKER_METRICS_PORT": "0",
            "GLEANER_LOG_LEVEL": "WARNING",
            "GLEANER_POD_DELETION_COST": "off",
            "PYTHONPATH": str(ROOT),
        }
        run = [sys.executable, "-m", "bench.worker.prepare", "gleaner"]
        subprocess.run([*run, args.job, str(args.count)], env=env, cwd=ROOT, check=True)
        raw = workdir / "profile.txt"
        spy = Path(sys.executable).parent / "py-spy"
        worker = [sys.executable, "-m", "bench.worker.gleanerworker"]
        subprocess.run(
            [
                *(
                    str(spy),
                    "record",
                    "--gil",
                    "--format",
                    "raw",
                    "--rate",
                    str(args.rate),
                ),
                *("--output", str(raw), "--", *worker),
                *("--concurrency", str(args.threads)),
            ],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        report(raw.read_text())


def report(raw: str) -> None:
    stacks: list[tuple[str, int]] = []
    for line in raw.splitlines():
        stack, _, samples = line.rpartition(" ")
        if stack:
            stacks.append((stack, int(samples)))
    total = sum(n for _, n in stacks)
    print(f"{total} samples")
    for label, marker in MARKERS.items():
        hits = sum(n for stack, n in stacks if marker in stack)
        print(f"  {100 * hits / total:5.1f} %  {label}")
    tops: collections.Counter[str] = collections.Counter()
    for stack, n in stacks:
        tops[stack.split(";")[-1]] += n
    print("top of stack:")
    for frame, n in tops.most_common(15):
        print(f"  {100 * n / total:5.1f} %  {frame}")


if __name__ == "__main__":
    main()
