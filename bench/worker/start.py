"""Start-up to the first job done, per worker kind, with real jobs; optionally against a baseline checkout.

    uv run python -m bench.worker.start --rounds 5 [--baseline DIR]

Per round and per code (this checkout, then the baseline, order swapped every other round): a fresh
private redis-server and SQLite file, a page server in this process, and one link submitted through
parsing → ai → notion (`prepare`, under the code measured). Then each stage's worker starts as it does in
a cluster (`python -m gleaner_<stage>`, not burst; the job already waiting in its queue) and is stopped
(SIGTERM) once its first job is done: the parsing worker fetches and extracts the page, the ai worker runs
the offline provider, the notion worker files in dry run (no token). A fourth run is the runner's own
cost: the parsing worker taking a no-op stage job (`bench.worker.jobs.stage_noop`, as `run.py`'s stage
jobs). "First job done" is the worker's `successful_job_count` in Redis, polled every 5 ms.

Per run: wall-clock seconds from the process start to the first job done, and the CPU seconds (user +
system) the process spent by then, which a loaded machine disturbs less than the wall clock.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from redis import Redis

from bench.worker.run import PACKAGES, ROOT, tree_cpu
from tests.servers import start_redis_server, stop_process
from tests.stack import PageServer

KINDS = ("parsing", "ai", "notion", "stage_noop")


@dataclass(frozen=True)
class Start:
    wall: float
    cpu: float
    load: float


def environment(
    code: Path | None, redis_url: str, database_url: str, page_port: int
) -> dict[str, str]:
    """The code measured first on the path (the baseline's packages, or this checkout's installed ones),
    then this checkout (bench.*, tests.*)."""
    path = [*(str(code / p) for p in PACKAGES)] if code is not None else []
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GLEANER_", "OTEL_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    return {
        **env,
        "PYTHONPATH": os.pathsep.join([*path, str(ROOT)]),
        "BENCH_REDIS_URL": redis_url,
        "GLEANER_REDIS_URL": redis_url,
        "GLEANER_DATABASE_URL": database_url,
        "GLEANER_WORKER_METRICS_PORT": "0",
        "GLEANER_POD_DELETION_COST": "off",
        "GLEANER_LOG_LEVEL": "WARNING",
        "GLEANER_FETCH_ALLOW_NETWORKS": f"127.0.0.1:{page_port}",
    }


PREPARE = """
import sys
from gleaner.db import migrate
from gleaner.runtime import Runtime
from gleaner.settings import load_settings
from tests.factories import submit_task

settings = load_settings()
migrate(settings.database_url)
runtime = Runtime.start(settings)
if sys.argv[1] == "stage_noop":
    submit_task(runtime, urls=[sys.argv[2]], stages=("parsing", "ai"),
                job_path="bench.worker.jobs.stage_noop")
else:
    submit_task(runtime, urls=[sys.argv[2]], stages=("parsing", "ai", "notion"))
runtime.close()
"""


def done_jobs(redis: Redis) -> tuple[int, int]:
    """(successful, failed) jobs of every registered worker."""
    ok = failed = 0
    for key in redis.smembers("rq:workers"):
        counts = redis.hmget(key, "successful_job_count", "failed_job_count")
        ok += int(counts[0] or 0)
        failed += int(counts[1] or 0)
    return ok, failed


def start_worker(stage: str, env: dict[str, str], log: Path, redis: Redis) -> Start:
    with open(log, "wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", f"gleaner_{stage}"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=out,
        )
        watched = psutil.Process(process.pid)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and process.poll() is None:
                ok, failed = done_jobs(redis)
                if ok:
                    return Start(
                        time.perf_counter() - started,
                        tree_cpu(watched),
                        os.getloadavg()[0],
                    )
                if failed:
                    break
                time.sleep(0.005)
        finally:
            stop_process(process, timeout=30)
    raise RuntimeError(f"{stage}: no job done: {log.read_text()[-3000:]}")


def measure_code(
    code: Path | None, pages: PageServer, workdir: Path
) -> dict[str, Start]:
    results: dict[str, Start] = {}
    for kind in ("parsing", "stage_noop"):
        server, redis_url = start_redis_server(workdir)
        redis = Redis.from_url(redis_url)
        database = workdir / f"{kind}.db"
        env = environment(code, redis_url, f"sqlite:///{database}", pages.port)
        try:
            subprocess.run(
                [sys.executable, "-c", PREPARE, kind, pages.url("/article/start")],
                env=env,
                cwd=ROOT,
                check=True,
            )
            if kind == "stage_noop":
                results[kind] = start_worker(
                    "parsing", env, workdir / f"{kind}.log", redis
                )
                continue
            for stage in ("parsing", "ai", "notion"):
                redis.delete(*redis.keys("rq:worker:*"), "rq:workers")
                results[stage] = start_worker(
                    stage, env, workdir / f"{stage}.log", redis
                )
        finally:
            redis.close()
            stop_process(server)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--baseline", type=Path, default=None, help="a checkout of the baseline"
    )
    args = parser.parse_args()
    codes: list[tuple[str, Path | None]] = [("this", None)]
    if args.baseline is not None:
        codes.append(("baseline", args.baseline.resolve()))
    results: dict[tuple[str, str], list[Start]] = {}
    pages = PageServer().start()
    try:
        for round_ in range(args.rounds):
            for name, code in codes if round_ % 2 == 0 else codes[::-1]:
                with tempfile.TemporaryDirectory() as tmp:
                    measured = measure_code(code, pages, Path(tmp))
                for kind, start in measured.items():
                    results.setdefault((name, kind), []).append(start)
                    print(
                        f"  r{round_} {name:8} {kind:10} start → first job {start.wall:5.2f} s, "
                        f"CPU {start.cpu:5.2f} s, load {start.load:.1f}",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        pages.stop()
    print(
        "| worker (first job) | code | start → first job, wall (s) | CPU to first job (s) | load avg |"
    )
    print("|---|---|---:|---:|---:|")
    for kind in KINDS:
        for name, _ in codes:
            runs = results[(name, kind)]
            print(
                f"| {kind} | {name} | {statistics.median(s.wall for s in runs):.2f} "
                f"| {statistics.median(s.cpu for s in runs):.2f} "
                f"| {statistics.median(s.load for s in runs):.1f} |"
            )
    if args.baseline is not None:
        print()
        print(
            "| worker | CPU to first job: this ÷ baseline (median of per-round ratios) | per round |"
        )
        print("|---|---:|---|")
        for kind in KINDS:
            ratios = [
                a.cpu / b.cpu
                for a, b in zip(
                    results[("this", kind)], results[("baseline", kind)], strict=True
                )
            ]
            rounds = ", ".join(f"{r:.2f}" for r in ratios)
            print(f"| {kind} | {statistics.median(ratios):.2f} | {rounds} |")


if __name__ == "__main__":
    main()
