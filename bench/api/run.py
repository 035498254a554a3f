"""One API process under load: a 10,000-link submit, GET /api/tasks/{id} at a fixed rate while workers
run, the task list, and what Redis holds per 10,000 items; this checkout against a baseline checkout
(e.g. main before the change) in the same run, rounds interleaved, on SQLite and PostgreSQL.

    uv run python -m bench.api.run [--baseline DIR] [--postgres URL] [--rounds 2] [--rate 200]
        [--only status|submit] [--processes 1,2] [--items-limit 20] [--databases sqlite,postgresql]
        [--api-cpu]

Per round, code and database: a fresh private redis-server and database, migrated by that code; the
API (`python -m gleaner_api serve`, one process) and a parsing worker (4 threads) on that code; a local
page server. Figures:
- submit: wall-clock seconds from sending POST /api/pipelines with 10,000 new URLs to its 202, and
  the API process's CPU seconds meanwhile (the figure a loaded machine changes least);
- status: `GET /api/tasks/{id}` of that 10,000-item task (its default answer, and include_items=false),
  open loop at --rate per second for --seconds (bench.api.load: latency from each request's due
  time), while the worker parses the task's pages; p50/p99 and the API process's CPU per request;
- list: median of 20 `GET /api/tasks?page_size=50` over 60 tasks;
- Redis: INFO used_memory after the submit, less before it (in flight, per 10,000 items), and after
  --fail-items items (pages that answer 404) have all failed, scaled to 10,000.
The load average is printed with each round: the machine is shared.

--only status skips the task list and the failures (the submit stays: the status phase reads its
task); --only submit measures the submit alone (a minute a round). Before the measured submit, one of
10 links warms the process up (its first request imports and builds what later ones reuse). --processes runs this checkout's API with each number of processes in turn (`serve
--processes N`; the baseline always runs one); the API's CPU is then its processes' sum. --items-limit
adds a phase reading `items_limit=N` items. The load generator runs in this process and costs CPU on
the same machine: its CPU per request is reported too. --api-cpu gives the API process(es) CPU 0 alone
and puts everything else (this process, Redis, the worker, the PostgreSQL server) on the other CPUs:
the goal is per API process, as in a cluster where the API pod has a CPU of its own; on a 2-core
machine without it, the parsing worker alone takes more than one core. Before each status phase the
API is left to go idle (the phase before may have left answers queued that nobody waits for).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from redis import Redis

from bench.api.load import LoadResult, fixed_rate
from bench.api.report import print_report
from bench.worker.run import fresh_postgres
from tests.servers import free_port, start_redis_server, stop_process
from tests.stack import PageServer

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "libs/core",
    "services/api",
    "services/worker-parsing",
    "services/worker-ai",
    "services/worker-notion",
)
SUBMIT_ITEMS = 10_000


@dataclass
class Figures:
    """One round of one code on one database."""

    code: str
    database: str
    submit_s: float = float("nan")
    submit_cpu_s: float = float("nan")
    status: dict[str, LoadResult] = field(default_factory=dict)
    status_cpu_ms: dict[str, float] = field(default_factory=dict)
    client_cpu_ms: dict[str, float] = field(default_factory=dict)
    list_ms: float = float("nan")
    redis_in_flight_mb: float = float("nan")
    redis_failed_mb: float = float("nan")
    load: float = 0.0


@dataclass(frozen=True)
class Options:
    rate: float
    seconds: float
    fail_items: int
    baseline: Path | None
    postgres: str | None
    only: str | None = None
    items_limit: int | None = None
    api_cpu: bool = False


def environment(
    code: str, redis_url: str, database_url: str, pages: int, opts: Options
) -> dict[str, str]:
    path = [str(ROOT)]
    if code == "baseline":
        assert opts.baseline is not None
        path = [*(str(opts.baseline / p) for p in PACKAGES), str(ROOT)]
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("GLEANER_")},
        "GLEANER_ENV": "test",
        "GLEANER_REDIS_URL": redis_url,
        "GLEANER_DATABASE_URL": database_url,
        "GLEANER_AUTH_ENABLED": "true",
        "GLEANER_LOG_LEVEL": "WARNING",
        "GLEANER_MAX_BATCH_SIZE": str(SUBMIT_ITEMS),
        "GLEANER_WORKER_METRICS_PORT": "0",
        "GLEANER_WORKER_CONCURRENCY": "4",
        "GLEANER_PARSING_RETRY_DELAYS": "0",
        "GLEANER_FETCH_ALLOW_NETWORKS": f"127.0.0.1:{pages}",
        "GLEANER_POD_DELETION_COST": "off",
        "PYTHONPATH": os.pathsep.join(path),
    }


def gleaner_api(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gleaner_api", *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.2)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def used_memory(redis: Redis) -> int:
    return int(redis.info("memory")["used_memory"])


class Round:
    """The processes of one measurement: Redis, database, API, worker; stopped by close()."""

    def __init__(
        self, code: str, database: str, workdir: Path, opts: Options, processes: int
    ) -> None:
        self.opts = opts
        self.figures = Figures(label(code, processes), database)
        self.server, redis_url = start_redis_server(workdir)
        self.redis = Redis.from_url(redis_url)
        self.drop: Callable[[], None] = lambda: None
        database_url = f"sqlite:///{workdir / 'bench.db'}"
        if database == "postgresql":
            assert opts.postgres is not None
            database_url, self.drop = fresh_postgres(opts.postgres)
        self.pages = PageServer().start()
        self.env = environment(code, redis_url, database_url, self.pages.port, opts)
        gleaner_api(self.env, "migrate")
        key = gleaner_api(self.env, "keys", "create", "--owner", "bench")
        self.headers = {"Authorization": f"Bearer {key}"}
        port = free_port()
        self.api_url = f"http://127.0.0.1:{port}"
        self.logs = open(workdir / "processes.log", "wb")
        several = ("--processes", str(processes)) if processes > 1 else ()
        self.api = self.start(
            "serve", "--host", "127.0.0.1", "--port", str(port), *several
        )
        self.workers: list[subprocess.Popen[bytes]] = []
        wait_until(lambda: answers(f"{self.api_url}/health"), 120, "the API")
        if opts.api_cpu:
            root = psutil.Process(self.api.pid)
            for process in [root, *root.children(recursive=True)]:
                os.sched_setaffinity(process.pid, API_CPUS)

    def start(self, *args: str, module: str = "gleaner_api") -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=self.env,
            cwd=ROOT,
            stdout=self.logs,
            stderr=self.logs,
        )

    def submit(self, urls: list[str]) -> tuple[int, float]:
        started = time.perf_counter()
        answer = httpx.post(
            f"{self.api_url}/api/pipelines",
            json={"urls": urls, "stages": ["parsing"]},
            headers=self.headers,
            timeout=300,
        )
        took = time.perf_counter() - started
        assert answer.status_code == 202, answer.text[:500]
        return int(answer.json()["task_id"]), took

    def task(self, task_id: int) -> dict[str, object]:
        answer = httpx.get(
            f"{self.api_url}/api/tasks/{task_id}",
            params={"include_items": "false"},
            headers=self.headers,
            timeout=60,
        )
        return dict(answer.json()["task"])

    def api_cpu_s(self) -> float:
        """User + system CPU seconds of the API: its process and any it started (--processes)."""
        root = psutil.Process(self.api.pid)
        total = 0.0
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def close(self) -> None:
        for process in [self.api, *self.workers]:
            stop_process(process)
        self.logs.close()
        self.pages.stop()
        self.redis.close()
        stop_process(self.server)
        self.drop()


API_CPUS = {0}
"""With --api-cpu: the CPU the API has to itself; everything else runs on the others."""


def pin_the_rest() -> Callable[[], None]:
    """This process (the load generator and page server, and what it starts: Redis, the worker) and
    the PostgreSQL server onto the CPUs the API does not use; returns what undoes it."""
    others = set(range(os.cpu_count() or 1)) - API_CPUS
    if not others:
        raise SystemExit("--api-cpu needs at least two CPUs")
    before = {os.getpid(): os.sched_getaffinity(0)}
    for process in psutil.process_iter(["name"]):
        if (process.info["name"] or "").startswith("postgres"):
            before[process.pid] = os.sched_getaffinity(process.pid)
    for pid in before:
        os.sched_setaffinity(pid, others)

    def undo() -> None:
        for pid, cpus in before.items():
            try:
                os.sched_setaffinity(pid, cpus)
            except ProcessLookupError:
                pass

    return undo


def settle(rnd: Round) -> None:
    """Wait until the API is idle (a phase's backlog, answers nobody waits for any more, must not
    be charged to the next phase): less than 5 % of a CPU over half a second, at most 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        before = rnd.api_cpu_s()
        time.sleep(0.5)
        if rnd.api_cpu_s() - before < 0.025:
            return


def status_under_load(rnd: Round, task_id: int) -> None:
    """The fixed-rate phases, while a worker parses the task's pages."""
    rnd.workers.append(rnd.start(module="gleaner_parsing"))
    wait_until(
        lambda: int(rnd.task(task_id)["completed_items"]) > 0,  # type: ignore[call-overload]
        120,
        "the worker to start",
    )
    client = psutil.Process()
    phases = [("default", ""), ("no_items", "?include_items=false")]
    if rnd.opts.items_limit is not None:
        phases.append(("limit", f"?items_limit={rnd.opts.items_limit}"))
    for name, query in phases:
        url = f"{rnd.api_url}/api/tasks/{task_id}{query}"
        settle(rnd)
        before, mine = rnd.api_cpu_s(), client.cpu_times()
        result = fixed_rate(url, rnd.headers, rnd.opts.rate, rnd.opts.seconds)
        used, after = rnd.api_cpu_s() - before, client.cpu_times()
        rnd.figures.status[name] = result
        rnd.figures.status_cpu_ms[name] = 1000 * used / max(1, result.ok)
        rnd.figures.client_cpu_ms[name] = (
            1000 * (after.user - mine.user + after.system - mine.system) / result.sent
        )


def list_tasks(rnd: Round) -> None:
    for n in range(60):
        rnd.submit(
            [f"http://127.0.0.1:{rnd.pages.port}/article/l{n}-{i}" for i in range(10)]
        )
    times = []
    for _ in range(20):
        started = time.perf_counter()
        answer = httpx.get(
            f"{rnd.api_url}/api/tasks",
            params={"page_size": 50},
            headers=rnd.headers,
            timeout=60,
        )
        assert answer.status_code == 200
        times.append(time.perf_counter() - started)
    rnd.figures.list_ms = 1000 * statistics.median(times)


def redis_after_failures(rnd: Round) -> None:
    """Memory that failed jobs leave: --fail-items pages that answer 404, all failed, scaled."""
    before = used_memory(rnd.redis)
    urls = [
        f"http://127.0.0.1:{rnd.pages.port}/missing/f{i}"
        for i in range(rnd.opts.fail_items)
    ]
    task_id, _ = rnd.submit(urls)
    wait_until(
        lambda: rnd.task(task_id)["status"] in ("failed", "partially_failed"),
        600,
        "the failing items",
    )
    per_item = (used_memory(rnd.redis) - before) / rnd.opts.fail_items
    rnd.figures.redis_failed_mb = per_item * SUBMIT_ITEMS / 2**20


def label(code: str, processes: int) -> str:
    return code if processes == 1 else f"{code}×{processes}"


def measure(code: str, database: str, opts: Options, processes: int = 1) -> Figures:
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        rnd = Round(code, database, Path(tmp), opts, processes)
        try:
            page = f"http://127.0.0.1:{rnd.pages.port}/article"
            before = used_memory(rnd.redis)
            rnd.submit([f"{page}/warm-up-{i}" for i in range(10)])
            cpu = rnd.api_cpu_s()
            task_id, took = rnd.submit(
                [f"{page}/{uuid.uuid4().hex[:8]}-{i}" for i in range(SUBMIT_ITEMS)]
            )
            rnd.figures.submit_s = took
            rnd.figures.submit_cpu_s = rnd.api_cpu_s() - cpu
            rnd.figures.redis_in_flight_mb = (used_memory(rnd.redis) - before) / 2**20
            rnd.figures.load = os.getloadavg()[0]
            if opts.only == "submit":
                return rnd.figures
            if opts.only != "status":
                list_tasks(rnd)
            status_under_load(rnd, task_id)
            rnd.redis.delete(
                "rq:queue:parsing"
            )  # the rest of the big task: not waited for
            if opts.only != "status":
                redis_after_failures(rnd)
        finally:
            rnd.close()
    return rnd.figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument(
        "--postgres", default=os.environ.get("GLEANER_TEST_POSTGRES_URL")
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--fail-items", type=int, default=1000)
    parser.add_argument("--only", choices=["status", "submit"], default=None)
    parser.add_argument(
        "--processes",
        default="1",
        help="comma-separated API process counts for this checkout, e.g. 1,2",
    )
    parser.add_argument("--items-limit", type=int, default=None)
    parser.add_argument(
        "--databases",
        default="sqlite,postgresql",
        help="which of them (postgresql also needs --postgres)",
    )
    parser.add_argument(
        "--api-cpu",
        action="store_true",
        help="the API on CPU 0 alone, all else (load generator, worker, Redis, PostgreSQL) on the "
        "others: an API pod with one CPU of its own",
    )
    args = parser.parse_args()
    opts = Options(
        args.rate,
        args.seconds,
        args.fail_items,
        args.baseline,
        args.postgres,
        args.only,
        args.items_limit,
        args.api_cpu,
    )
    codes = [
        *(("this", int(n)) for n in args.processes.split(",")),
        *([("baseline", 1)] if args.baseline else []),
    ]
    databases = [
        d
        for d in args.databases.split(",")
        if d == "sqlite" or (d == "postgresql" and args.postgres)
    ]
    results: list[Figures] = []
    undo = pin_the_rest() if opts.api_cpu else (lambda: None)
    try:
        for n in range(args.rounds):
            for database in databases:
                for code, processes in codes:
                    figures = measure(code, database, opts, processes)
                    results.append(figures)
                    print(f"round {n + 1}: {figures}", flush=True)
    finally:
        undo()
    print_report(results, opts.rate, opts.seconds)


if __name__ == "__main__":
    main()
