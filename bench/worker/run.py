"""Worker throughput: RQ's forking Worker, RQ's SimpleWorker, Gleaner's threaded worker and Celery prefork.

    uv run python -m bench.worker.run [--repeats 3]

Each run gets a fresh private redis-server. All jobs are enqueued first, then one worker process starts
in burst mode; the clock runs from the first job counted done to the last (start-up and enqueueing are
not measured), polling a Redis counter every millisecond. Memory is the peak RSS of the whole worker
process tree (forked horses and Celery's pool children included), sampled every 20 ms with psutil.
Every design enforces the job timeout: SIGALRM in RQ's workers, a timer thread in Gleaner's, Celery's
task_time_limit. Prints a Markdown table of medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from redis import Redis
from rq import Queue

from bench.worker.jobs import COUNTER
from tests.servers import start_redis_server, stop_process

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Design:
    label: str
    command: list[str]
    is_celery: bool = False


def designs() -> dict[str, Design]:
    py = sys.executable
    celery = [
        py,
        "-m",
        "celery",
        "-A",
        "bench.worker.celery_app",
        "worker",
        "--loglevel=WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-Q",
        "bench",
    ]
    return {
        "rq-fork": Design(
            "RQ Worker (fork per job)", [py, "-m", "bench.worker.rqworker", "fork"]
        ),
        "rq-simple": Design(
            "RQ SimpleWorker", [py, "-m", "bench.worker.rqworker", "simple"]
        ),
        "gleaner-1": Design(
            "Gleaner, 1 thread",
            [py, "-m", "bench.worker.gleanerworker", "--concurrency", "1"],
        ),
        "gleaner-4": Design(
            "Gleaner, 4 threads",
            [py, "-m", "bench.worker.gleanerworker", "--concurrency", "4"],
        ),
        "gleaner-8": Design(
            "Gleaner, 8 threads",
            [py, "-m", "bench.worker.gleanerworker", "--concurrency", "8"],
        ),
        "gleaner-16": Design(
            "Gleaner, 16 threads",
            [py, "-m", "bench.worker.gleanerworker", "--concurrency", "16"],
        ),
        "celery-2": Design(
            "Celery prefork, 2 processes (default here: 1 per CPU)",
            [*celery, "-P", "prefork", "-c", "2"],
            True,
        ),
        "celery-8": Design(
            "Celery prefork, 8 processes", [*celery, "-P", "prefork", "-c", "8"], True
        ),
    }


# (design, job, jobs to run): sized so that each run lasts a few seconds
PLAN: list[tuple[str, str, int]] = [
    ("rq-fork", "noop", 300),
    ("rq-simple", "noop", 1500),
    ("gleaner-1", "noop", 1500),
    ("gleaner-4", "noop", 2000),
    ("gleaner-8", "noop", 2000),
    ("celery-2", "noop", 2000),
    ("rq-fork", "wait_io", 100),
    ("rq-simple", "wait_io", 100),
    ("gleaner-4", "wait_io", 300),
    ("gleaner-8", "wait_io", 500),
    ("gleaner-16", "wait_io", 800),
    ("celery-2", "wait_io", 150),
    ("celery-8", "wait_io", 500),
]


@dataclass
class Measure:
    jobs_per_second: float
    peak_rss_mib: float

    @property
    def per_gib(self) -> float:
        return self.jobs_per_second / (self.peak_rss_mib / 1024)


def enqueue(redis: Redis, design: Design, job: str, count: int) -> None:
    if design.is_celery:
        from celery import Celery  # type: ignore[import-untyped]

        client = Celery("bench-client", broker=_url(redis))
        with client.producer_or_acquire() as producer:
            for _ in range(count):
                client.send_task(f"bench.{job}", queue="bench", producer=producer)
        client.close()
        return
    queue = Queue("parsing", connection=redis)
    data = [
        Queue.prepare_data(f"bench.worker.jobs.{job}", timeout=60, result_ttl=60)
        for _ in range(count)
    ]
    with redis.pipeline() as pipe:
        queue.enqueue_many(data, pipeline=pipe)
        pipe.execute()


def _url(redis: Redis) -> str:
    kwargs = redis.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/0"


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def measure(design: Design, job: str, count: int, workdir: Path) -> Measure:
    server, url = start_redis_server(workdir)
    redis = Redis.from_url(url)
    try:
        env = {
            **os.environ,
            "BENCH_REDIS_URL": url,
            "GLEANER_REDIS_URL": url,
            "GLEANER_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
            "GLEANER_WORKER_METRICS_PORT": "0",
            "GLEANER_LOG_LEVEL": "WARNING",
            "GLEANER_POD_DELETION_COST": "off",
            "PYTHONPATH": str(ROOT),
        }
        enqueue(redis, design, job, count)
        log = open(workdir / "worker.log", "wb")
        process = subprocess.Popen(
            design.command, env=env, cwd=ROOT, stdout=log, stderr=log
        )
        peak = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            watched = psutil.Process(process.pid)
            while not stop.is_set():
                try:
                    peak = max(peak, tree_rss(watched))
                except psutil.Error:
                    return
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        first = last = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done = int(redis.get(COUNTER) or 0)
            if first is None and done >= 1:
                first = (time.perf_counter(), done)
            if done >= count:
                last = (time.perf_counter(), done)
                break
            time.sleep(0.001)
        stop.set()
        sampler.join()
        stop_process(
            process, timeout=20
        )  # burst RQ workers exit by themselves; Celery is told to
        log.close()
        if first is None or last is None:
            raise RuntimeError(
                f"{design.label} did not finish: {(workdir / 'worker.log').read_text()[-2000:]}"
            )
        rate = (last[1] - first[1]) / (last[0] - first[0])
        return Measure(rate, peak / 2**20)
    finally:
        redis.close()
        stop_process(server)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated design keys")
    args = parser.parse_args()
    table = designs()
    results: dict[tuple[str, str], list[Measure]] = {}
    for _ in range(args.repeats):
        for key, job, count in PLAN:
            if args.only and key not in args.only.split(","):
                continue
            with tempfile.TemporaryDirectory() as tmp:
                m = measure(table[key], job, count, Path(tmp))
            results.setdefault((key, job), []).append(m)
            print(
                f"  {key:11} {job:8} {m.jobs_per_second:8.1f} jobs/s  {m.peak_rss_mib:6.1f} MiB",
                file=sys.stderr,
            )
    base = {
        job: statistics.median(
            m.jobs_per_second for m in results.get(("rq-fork", job), [])
        )
        for job in ("noop", "wait_io")
        if ("rq-fork", job) in results
    }
    celery = (
        statistics.median(m.per_gib for m in results[("celery-2", "wait_io")])
        if ("celery-2", "wait_io") in results
        else None
    )
    print(
        "| job | design | jobs/s (median) | × RQ Worker | peak RSS of the process tree (MiB) | jobs/s per GiB | × Celery prefork (2) per GiB |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for (key, job), measures in results.items():
        rate = statistics.median(m.jobs_per_second for m in measures)
        rss = statistics.median(m.peak_rss_mib for m in measures)
        per_gib = statistics.median(m.per_gib for m in measures)
        ratio = f"{rate / base[job]:.1f}×" if job in base else ""
        vs_celery = f"{per_gib / celery:.1f}×" if celery and job == "wait_io" else ""
        print(
            f"| {job} | {table[key].label} | {rate:.0f} | {ratio} | {rss:.0f} | {per_gib:.0f} | {vs_celery} |"
        )


if __name__ == "__main__":
    main()
