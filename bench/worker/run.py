"""Worker cost: Gleaner's worker (bare jobs and stage jobs through the job runner, on SQLite and
PostgreSQL), RQ's SimpleWorker and Dramatiq, in the same run, rounds interleaved; with --baseline, the
same designs on another checkout's code (e.g. the previous main) in the same rounds.

    uv run python -m bench.worker.run --rounds 3 [--baseline DIR] [--postgres URL]

Per run: a fresh private redis-server (and a fresh SQLite file or PostgreSQL database), the run's jobs
enqueued first by `bench.worker.prepare` under the code being measured, then one worker process starts.
Every job INCRs a Redis counter, polled every 5 ms. Figures, between the first job done and the last:
jobs/s; CPU per job (user + system of the worker's process tree, psutil; PostgreSQL's own server CPU
is not in it); Redis commands per job (INFO commandstats delta, less the poller's own commands); peak
RSS of the process tree (sampled every 20 ms); start-up time from process start to the first job done,
in wall-clock seconds and in the tree's CPU seconds (the wall clock of a start-up is mostly other
processes' turn on a loaded machine; its CPU is not).
Ratios are taken within each round, then their median is printed, with the load average of the rounds.
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
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from redis import Redis

from bench.worker.jobs import COUNTER
from tests.servers import start_redis_server, stop_process

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "libs/core",
    "services/api",
    "services/worker-parsing",
    "services/worker-ai",
    "services/worker-notion",
)


@dataclass(frozen=True)
class Design:
    key: str
    label: str
    system: str  # gleaner | rq | dramatiq
    job: str
    count: int
    threads: int = 1
    database: str = "sqlite"
    code: str = "new"  # new | main (the --baseline checkout)

    def command(self) -> list[str]:
        py = sys.executable
        if self.system == "dramatiq":
            return [
                *(py, "-m", "dramatiq", "bench.worker.dramatiq_app"),
                *("--processes", "1", "--threads", str(self.threads)),
            ]
        if self.system == "rq":
            return [py, "-m", "bench.worker.rqworker", "simple"]
        return [
            *(py, "-m", "bench.worker.gleanerworker"),
            *("--concurrency", str(self.threads)),
        ]


def plan(with_baseline: bool, with_postgres: bool) -> list[Design]:
    designs = [
        Design("rq-simple", "RQ SimpleWorker, bare no-op", "rq", "noop", 600),
        Design("dramatiq-8", "Dramatiq 1×8, no-op", "dramatiq", "noop", 3000, 8),
        Design(
            "gleaner-4", "Gleaner 4 threads, bare no-op", "gleaner", "noop", 1500, 4
        ),
        Design(
            "stage-sqlite",
            "Gleaner 4 threads, no-op stage job, SQLite",
            "gleaner",
            "stage_noop",
            800,
            4,
        ),
        Design(
            "dramatiq-16-io", "Dramatiq 1×16, 50 ms IO", "dramatiq", "wait_io", 500, 16
        ),
        Design(
            "gleaner-16-io",
            "Gleaner 16 threads, bare 50 ms IO",
            "gleaner",
            "wait_io",
            800,
            16,
        ),
        Design(
            "stage-16-io",
            "Gleaner 16 threads, 50 ms IO stage job, SQLite",
            "gleaner",
            "stage_io",
            500,
            16,
        ),
    ]
    if with_postgres:
        designs.insert(
            4,
            Design(
                "stage-pg",
                "Gleaner 4 threads, no-op stage job, PostgreSQL",
                "gleaner",
                "stage_noop",
                800,
                4,
                "postgresql",
            ),
        )
    if with_baseline:
        for key, label, job, count, threads, database in (
            ("gleaner-4", "bare no-op", "noop", 800, 4, "sqlite"),
            ("stage-sqlite", "no-op stage job, SQLite", "stage_noop", 250, 4, "sqlite"),
            (
                "stage-pg",
                "no-op stage job, PostgreSQL",
                "stage_noop",
                300,
                4,
                "postgresql",
            ),
            (
                "stage-16-io",
                "50 ms IO stage job, SQLite",
                "stage_io",
                400,
                16,
                "sqlite",
            ),
        ):
            if database == "postgresql" and not with_postgres:
                continue
            designs.append(
                Design(
                    f"main:{key}",
                    f"baseline main, Gleaner {threads} threads, {label}",
                    "gleaner",
                    job,
                    count,
                    threads,
                    database,
                    "main",
                )
            )
    return designs


@dataclass
class Measure:
    jobs_per_second: float
    cpu_ms_per_job: float
    peak_rss_mib: float
    commands_per_job: float
    startup_seconds: float
    startup_cpu_seconds: float
    load: float

    @property
    def per_gib(self) -> float:
        return self.jobs_per_second / (self.peak_rss_mib / 1024)


def tree(process: psutil.Process) -> list[psutil.Process]:
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return [process]


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for proc in tree(process):
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def tree_cpu(process: psutil.Process) -> float:
    total = 0.0
    for proc in tree(process):
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def commands(redis: Redis) -> int:
    stats = redis.info("commandstats")
    return sum(int(entry["calls"]) for entry in stats.values())


def environment(
    design: Design,
    workdir: Path,
    redis_url: str,
    database_url: str,
    baseline: Path | None,
) -> dict[str, str]:
    path = [str(ROOT)]
    if design.code == "main":
        assert baseline is not None
        # The baseline's packages ahead of this checkout's (installed editable), and no hiredis:
        # the baseline ran without it.
        blocker = workdir / "no-hiredis"
        blocker.mkdir(exist_ok=True)
        (blocker / "hiredis.py").write_text(
            "raise ImportError('baseline: no hiredis')\n"
        )
        path = [str(blocker), *(str(baseline / p) for p in PACKAGES), str(ROOT)]
    return {
        **os.environ,
        "BENCH_REDIS_URL": redis_url,
        "GLEANER_REDIS_URL": redis_url,
        "GLEANER_DATABASE_URL": database_url,
        "GLEANER_WORKER_METRICS_PORT": "0",
        "GLEANER_LOG_LEVEL": "WARNING",
        "GLEANER_POD_DELETION_COST": "off",
        "PYTHONPATH": os.pathsep.join(path),
    }


def fresh_postgres(admin_url: str) -> tuple[str, Callable[[], None]]:
    from sqlalchemy import create_engine, text

    from gleaner.settings import Settings

    url = Settings(DATABASE_URL=admin_url).database_url
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{url.rsplit('/', 1)[0]}/{name}", drop


@contextmanager
def private_backends(workdir: Path, postgres: str) -> Iterator[tuple[str, str]]:
    """(redis_url, database_url): a redis-server of its own, and a SQLite file in `workdir` or, when
    `postgres` names a server, a fresh database on it; both gone afterwards."""
    server, redis_url = start_redis_server(workdir)
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    drop: Callable[[], None] = lambda: None  # noqa: E731
    try:
        if postgres:
            database_url, drop = fresh_postgres(postgres)
        yield redis_url, database_url
    finally:
        stop_process(server)
        drop()


def measure(
    design: Design, workdir: Path, baseline: Path | None, postgres: str | None
) -> Measure:
    server, redis_url = start_redis_server(workdir)
    redis = Redis.from_url(redis_url)
    drop: Callable[[], None] = lambda: None  # noqa: E731
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    if design.system == "gleaner" and design.database == "postgresql":
        assert postgres is not None
        database_url, drop = fresh_postgres(postgres)
    try:
        env = environment(design, workdir, redis_url, database_url, baseline)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.worker.prepare",
                design.system,
                design.job,
                str(design.count),
            ],
            env=env,
            cwd=ROOT,
            check=True,
        )
        log = open(workdir / "worker.log", "wb")
        started = time.perf_counter()
        process = subprocess.Popen(
            design.command(), env=env, cwd=ROOT, stdout=log, stderr=log
        )
        watched = psutil.Process(process.pid)
        peak = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, tree_rss(watched))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        first: tuple[float, int, float, int] | None = None
        last: tuple[float, int, float, int] | None = None
        polls = 0
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            done = int(redis.get(COUNTER) or 0)
            polls += 1
            if first is None and done >= 1:
                first = (time.perf_counter(), done, tree_cpu(watched), commands(redis))
                polls = 0
            if done >= design.count:
                last = (time.perf_counter(), done, tree_cpu(watched), commands(redis))
                break
            time.sleep(0.005)
        stop.set()
        sampler.join()
        stop_process(
            process, timeout=20
        )  # RQ workers in burst mode exit by themselves; Dramatiq is told to
        log.close()
        if first is None or last is None:
            raise RuntimeError(
                f"{design.label} did not finish: {(workdir / 'worker.log').read_text()[-3000:]}"
            )
        jobs = last[1] - first[1]
        own = (
            polls + 1
        )  # the poller's GETs and its first INFO, counted in the second snapshot
        return Measure(
            jobs_per_second=jobs / (last[0] - first[0]),
            cpu_ms_per_job=1000 * (last[2] - first[2]) / jobs,
            peak_rss_mib=peak / 2**20,
            commands_per_job=(last[3] - first[3] - own) / jobs,
            startup_seconds=first[0] - started,
            startup_cpu_seconds=first[2],
            load=os.getloadavg()[0],
        )
    finally:
        redis.close()
        stop_process(server)
        drop()


# (label, numerator design, denominator design, figure, goal): a ratio taken within each round
RATIOS: list[tuple[str, str, str, str, str]] = [
    (
        "stage job CPU/job ÷ Dramatiq's, SQLite",
        "stage-sqlite",
        "dramatiq-8",
        "cpu",
        "≤ 2",
    ),
    (
        "stage job CPU/job ÷ Dramatiq's, PostgreSQL",
        "stage-pg",
        "dramatiq-8",
        "cpu",
        "≤ 2",
    ),
    ("bare no-op jobs/s ÷ RQ SimpleWorker's", "gleaner-4", "rq-simple", "rate", "≥ 2"),
    (
        "bare 50 ms IO jobs/s per GiB ÷ Dramatiq 1×16's",
        "gleaner-16-io",
        "dramatiq-16-io",
        "per_gib",
        "≥ 1",
    ),
    (
        "stage 50 ms IO jobs/s per GiB ÷ Dramatiq 1×16's",
        "stage-16-io",
        "dramatiq-16-io",
        "per_gib",
        "≥ 1",
    ),
    (
        "stage job CPU/job, SQLite: this ÷ baseline",
        "stage-sqlite",
        "main:stage-sqlite",
        "cpu",
        "",
    ),
    (
        "stage job CPU/job, PostgreSQL: this ÷ baseline",
        "stage-pg",
        "main:stage-pg",
        "cpu",
        "",
    ),
    ("bare no-op jobs/s: this ÷ baseline", "gleaner-4", "main:gleaner-4", "rate", ""),
    (
        "stage IO jobs/s per GiB: this ÷ baseline",
        "stage-16-io",
        "main:stage-16-io",
        "per_gib",
        "",
    ),
]

FIGURES: dict[str, Callable[[Measure], float]] = {
    "cpu": lambda m: m.cpu_ms_per_job,
    "rate": lambda m: m.jobs_per_second,
    "per_gib": lambda m: m.per_gib,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated design keys")
    parser.add_argument(
        "--baseline", type=Path, default=None, help="a checkout of the baseline"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("GLEANER_TEST_POSTGRES_URL", ""),
        help="a PostgreSQL server URL (a database is made per run)",
    )
    args = parser.parse_args()
    designs = plan(args.baseline is not None, bool(args.postgres))
    if args.only:
        designs = [d for d in designs if d.key in args.only.split(",")]
    results: dict[str, list[Measure]] = {}
    for round_ in range(args.rounds):
        # alternate the order each round, so no design always runs first or last
        for design in designs if round_ % 2 == 0 else designs[::-1]:
            with tempfile.TemporaryDirectory() as tmp:
                m = measure(design, Path(tmp), args.baseline, args.postgres or None)
            results.setdefault(design.key, []).append(m)
            print(
                f"  r{round_} {design.key:18} {m.jobs_per_second:7.0f} jobs/s {m.cpu_ms_per_job:6.2f} ms CPU/job "
                f"{m.commands_per_job:5.1f} cmd/job {m.peak_rss_mib:5.0f} MiB start {m.startup_seconds:4.2f} s "
                f"(CPU {m.startup_cpu_seconds:4.2f} s) "
                f"load {m.load:.1f}",
                file=sys.stderr,
                flush=True,
            )
    print(
        "| design | jobs/s | CPU ms/job | Redis commands/job | peak RSS MiB | jobs/s per GiB | start → first job (s) | CPU to first job (s) | load avg |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for design in designs:
        ms = results[design.key]

        def med(f: Callable[[Measure], float], ms: list[Measure] = ms) -> float:
            return statistics.median(f(m) for m in ms)

        print(
            f"| {design.label} | {med(lambda m: m.jobs_per_second):.0f} | {med(lambda m: m.cpu_ms_per_job):.2f} "
            f"| {med(lambda m: m.commands_per_job):.1f} | {med(lambda m: m.peak_rss_mib):.0f} "
            f"| {med(lambda m: m.per_gib):.0f} | {med(lambda m: m.startup_seconds):.2f} "
            f"| {med(lambda m: m.startup_cpu_seconds):.2f} "
            f"| {med(lambda m: m.load):.1f} |"
        )
    print()
    print("| same-run ratio (median of per-round ratios) | value | per round | goal |")
    print("|---|---:|---|---|")
    for label, top, bottom, figure, goal in RATIOS:
        if top not in results or bottom not in results:
            continue
        f = FIGURES[figure]
        per_round = [
            f(a) / f(b) for a, b in zip(results[top], results[bottom], strict=False)
        ]
        rounds = ", ".join(f"{r:.2f}" for r in per_round)
        print(f"| {label} | {statistics.median(per_round):.2f} | {rounds} | {goal} |")


if __name__ == "__main__":
    main()
