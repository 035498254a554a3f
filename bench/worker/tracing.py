"""What tracing costs a worker: jobs/s with tracing off, on with sampling 0, and on at 100 %.

    uv run python -m bench.worker.tracing [--items 1000] [--repeats 3] [--concurrency 4]

Each run gets a fresh private redis-server and SQLite file. The items are made and enqueued by a
subprocess running the API's own code (`tasks.create_task`, `queues.enqueue_item_jobs`) with the run's
OTEL_* environment, so items carry their root span and their enqueue's context as in production. Then
one shipped worker process (burst mode) runs them through the real job runner (`execute_item`: claim,
body, completion, SQL and Redis) with a body that only counts itself done. The clock runs from the first
job counted to the last. Traces go to a real OTLP/HTTP receiver in this process (tests/tracing/otlp.py),
so export costs what it costs. The three settings alternate within each repeat; medians are printed with
the ratio to "off" of the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from redis import Redis

from gleaner.db import migrate
from gleaner.execution import ItemContext, execute_item
from tests.servers import start_redis_server, stop_process
from tests.tracing.otlp import OTLPReceiver

ROOT = Path(__file__).resolve().parents[2]
COUNTER = "bench:tracing:done"
JOB_PATH = "bench.worker.tracing.count_item"


def _count(ctx: ItemContext) -> dict[str, Any]:
    ctx.runtime.redis.incr(COUNTER)
    return {}


def count_item(item_id: int) -> dict[str, Any]:
    """The benchmark's job: the whole runner around a body that only counts itself done."""
    return execute_item("parsing", item_id, _count)


def settings_for(receiver: OTLPReceiver) -> dict[str, dict[str, str]]:
    on = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
    return {
        "off": {},
        "on, ratio 0": {
            **on,
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0",
        },
        "on, 100 %": {**on, "OTEL_TRACES_SAMPLER": "parentbased_always_on"},
    }


def submit_main(count: int) -> None:
    """In the submitting subprocess: one task of `count` items, enqueued as the API does."""
    from gleaner import tracing
    from gleaner.db import session_scope
    from gleaner.models import TaskType
    from gleaner.queues import enqueue_item_jobs
    from gleaner.runtime import Runtime
    from gleaner.settings import load_settings
    from gleaner.tasks import ItemInput, create_task

    tracing.setup("api")
    runtime = Runtime.start(load_settings())
    with session_scope(runtime.sessions) as session:
        _, jobs = create_task(
            session,
            owner="bench",
            task_type=TaskType.PIPELINE,
            stages=["parsing"],
            inputs=[ItemInput(item_id=i, item_type="link") for i in range(count)],
        )
    enqueue_item_jobs(
        runtime.redis,
        runtime.settings,
        [replace(job, job_path=JOB_PATH) for job in jobs],
    )
    runtime.close()
    tracing.shutdown()


def measure(otel: dict[str, str], count: int, concurrency: int, workdir: Path) -> float:
    server, url = start_redis_server(workdir)
    redis = Redis.from_url(url)
    try:
        db = f"sqlite:///{workdir / 'bench.db'}"
        migrate(db)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
            **otel,
            "GLEANER_REDIS_URL": url,
            "GLEANER_DATABASE_URL": db,
            "GLEANER_WORKER_METRICS_PORT": "0",
            "GLEANER_LOG_LEVEL": "WARNING",
            "GLEANER_POD_DELETION_COST": "off",
            "PYTHONPATH": str(ROOT),
        }
        subprocess.run(
            [sys.executable, "-m", "bench.worker.tracing", "--submit", str(count)],
            env=env,
            cwd=ROOT,
            check=True,
        )
        log = open(workdir / "worker.log", "wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.worker.gleanerworker"]
            + ["--concurrency", str(concurrency)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
        first = last = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done = int(redis.get(COUNTER) or 0)
            if first is None and done >= 1:
                first = (time.perf_counter(), done)
            if done >= count:
                last = (time.perf_counter(), done)
                break
            time.sleep(0.001)
        stop_process(process, timeout=30)
        log.close()
        if first is None or last is None:
            raise RuntimeError((workdir / "worker.log").read_text()[-2000:])
        return (last[1] - first[1]) / (last[0] - first[0])
    finally:
        redis.close()
        stop_process(server)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--submit", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.submit:
        submit_main(args.submit)
        return
    receiver = OTLPReceiver().start()
    try:
        variants = settings_for(receiver)
        rates: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, otel in variants.items():
                with tempfile.TemporaryDirectory() as tmp:
                    rate = measure(otel, args.items, args.concurrency, Path(tmp))
                rates[name].append(rate)
                print(f"  {name:12} {rate:8.1f} jobs/s", file=sys.stderr)
        spans = len(receiver.received())
    finally:
        receiver.stop()
    base = statistics.median(rates["off"])
    print(f"| tracing | jobs/s (median of {args.repeats}) | × off |")
    print("|---|---:|---:|")
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"| {name} | {rate:.0f} | {rate / base:.2f}× |")
    print(f"\nspans received in all: {spans}")


if __name__ == "__main__":
    main()
