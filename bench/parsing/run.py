"""Parsing-stage benchmark on the 181 real pages of the article-extraction benchmark.

  uv run python bench/parsing/run.py [--repeats 3] [--workers 1 2] [--concurrency 4] [--skip-variants]

1. Baseline, in this process: bare `trafilatura.extract(html, include_comments=False)` over the pages,
   single-threaded, timed exactly as ../shared/tools/score_extraction.py --extract trafilatura does,
   and scored.
2. Extractor variants (gleaner_parsing.extractor.ExtractOptions), in process: F1 and pages/s, each
   against a baseline pass timed just before it.
3. The whole stage: the pages served gzip-compressed by a local HTTP server, a task of 181 links with
   stages (parsing, ai) submitted like the API does, N real `python -m gleaner_parsing --burst` workers
   (fetch, decode, extract, write SQL, enqueue the AI job). Pages/s is the span from the first attempt's
   start to the last attempt's end (from SQL, so process start-up is not counted). What landed in
   ParsedContent is scored with score_extraction.py.

The machine is shared, so baseline and stage runs are interleaved (A B1 B2 A B1 B2 ...): each stage run's
ratio is taken against the mean of the baseline passes just before and after it, and the table gives the
median of those ratios, with the 1-minute load average at each round.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT.parent / "shared" / "tools")]

import score_extraction  # type: ignore[import-not-found]  # noqa: E402
import trafilatura  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from gleaner.db import migrate, session_scope  # noqa: E402
from gleaner.models import (  # noqa: E402
    FINISHED_ITEM_STATUSES,
    ItemAttempt,
    Link,
    ParsedContent,
    TaskItem,
)
from gleaner.runtime import Runtime  # noqa: E402
from gleaner.settings import Settings  # noqa: E402
from gleaner_parsing.extractor import DEFAULT_OPTIONS, ExtractOptions, extract_article  # noqa: E402
from tests.factories import get_task, submit_task  # noqa: E402
from tests.parsing.server import PageServer  # noqa: E402
from tests.servers import start_redis_server, stop_process  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "article-extraction-benchmark"
BALANCED = ExtractOptions(
    favor_recall=False, fast=False, drop_pointers=False, drop_calls_to_action=False
)  # trafilatura's own defaults, no cleanup rule
VARIANTS = {
    "trafilatura defaults + metadata": BALANCED,
    "favor_precision": replace(BALANCED, favor_precision=True),
    "favor_recall": replace(BALANCED, favor_recall=True),
    "fast": replace(BALANCED, fast=True),
    "fast + favor_precision": replace(BALANCED, fast=True, favor_precision=True),
    "fast + favor_recall": replace(BALANCED, fast=True, favor_recall=True),
    "fast + cleanup rules + readability fallback (chosen by holdout.py)": DEFAULT_OPTIONS,
}


BASELINE_CPU: list[float] = []
"""CPU seconds of each baseline pass (the bench process has no other busy thread meanwhile)."""


def load_pages() -> dict[str, str]:
    return {
        path.name.split(".")[0]: gzip.decompress(path.read_bytes()).decode("utf-8")
        for path in sorted((CORPUS / "html").glob("*.html.gz"))
    }


def baseline(
    pages: dict[str, str], truth: dict[str, dict[str, str]]
) -> tuple[float, float]:
    """(F1, pages/s) of bare trafilatura, as the scorer's --extract mode runs it."""
    start, cpu = time.perf_counter(), time.process_time()
    out = {
        pid: trafilatura.extract(html, include_comments=False) or ""
        for pid, html in pages.items()
    }
    seconds = time.perf_counter() - start
    BASELINE_CPU.append(time.process_time() - cpu)
    return score_extraction.score(truth, out)[3], len(pages) / seconds


def variant(
    pages: dict[str, str], truth: dict[str, dict[str, str]], options: ExtractOptions
) -> tuple[float, float]:
    start = time.perf_counter()
    out = {}
    for pid, html in pages.items():
        article = extract_article(html, truth[pid]["url"], options=options)
        out[pid] = article.text if article else ""
    seconds = time.perf_counter() - start
    return score_extraction.score(truth, out)[3], len(pages) / seconds


def wait_until(
    check: Callable[[], bool],
    what: str,
    crashed: list[subprocess.Popen[bytes]] | None = None,
    timeout: float = 600,
    pause: float = 0.05,
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        dead = [p.returncode for p in crashed or [] if p.poll() is not None]
        if dead:
            print(f"  WORKER EXITED {dead} while waiting for: {what}")
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for: {what}")
        time.sleep(pause)


def run_stage(
    workdir: Path,
    server: PageServer,
    redis_url: str,
    ids: list[str],
    workers: int,
    profile: Path | None = None,
) -> tuple[float, dict[str, str]]:
    """(pages/s, id -> stored text) for one run of the whole stage with `workers` processes.

    With `profile`, py-spy samples each worker from the task's submission to its last item (raw
    stacks written to profile/worker-N.txt; bench/parsing/profile.py sorts them into stage parts)."""
    db = workdir / f"stage-{workers}-{time.monotonic_ns()}.db"
    env = {
        "GLEANER_ENV": "test",
        "GLEANER_DATABASE_URL": f"sqlite:///{db}",
        "GLEANER_REDIS_URL": redis_url,
        "GLEANER_DATA_DIR": str(workdir),
        "GLEANER_LOG_LEVEL": "WARNING",
        "GLEANER_WORKER_METRICS_PORT": "0",
        "GLEANER_PARSING_RETRY_DELAYS": "0",
        "GLEANER_FETCH_ALLOW_NETWORKS": f"127.0.0.1:{server.port}",
    }
    migrate(env["GLEANER_DATABASE_URL"])
    settings = Settings.model_validate(
        {key.removeprefix("GLEANER_"): value for key, value in env.items()}
    )
    runtime = Runtime.start(settings)
    runtime.redis.flushdb()
    process_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    # Long-running workers, all registered before the task exists: burst workers started together
    # begin seconds apart on a busy machine, and the first one alone would set the pace meanwhile.
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gleaner_parsing"], env=process_env, cwd=ROOT
        )
        for _ in range(workers)
    ]
    threads = workers * int(process_env.get("GLEANER_WORKER_CONCURRENCY", "4"))
    wait_until(
        lambda: runtime.redis.scard("rq:workers") >= threads, "workers registered"
    )
    urls = {server.url(f"/bench/{pid}"): pid for pid in ids}
    spies = (
        [spy(proc.pid, profile, n) for n, proc in enumerate(procs)] if profile else []
    )
    cpu_before = sum(cpu_seconds(proc.pid) for proc in procs)
    task_id = submit_task(runtime, urls=list(urls), stages=("parsing", "ai"))

    def finished() -> bool:
        # One COUNT, not the task with its 181 items: the page server shares this process's GIL,
        # and a heavy poll here would hold up the worker's fetches (the span is read from SQL).
        with session_scope(runtime.sessions) as session:
            left = session.scalar(
                select(func.count())
                .select_from(TaskItem)
                .where(
                    TaskItem.task_id == task_id,
                    TaskItem.stage != "ai",
                    TaskItem.status.not_in(FINISHED_ITEM_STATUSES),
                )
            )
        return left == 0

    wait_until(finished, "task through the parsing stage", crashed=procs, pause=0.2)
    cpu = sum(cpu_seconds(proc.pid) for proc in procs) - cpu_before
    for sampler in spies:
        sampler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    for sampler in spies:
        sampler.wait(timeout=60)
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        if proc.wait(timeout=60) not in (0, -signal.SIGTERM):
            print(
                f"  WORKER EXITED {proc.returncode}: the items it held are counted below as not done"
            )
    task = get_task(runtime, task_id)
    not_done = [
        (i.stage, i.status, i.error_code) for i in task.items if i.stage != "ai"
    ]
    if not_done:
        print(f"  {len(not_done)} items did not reach the AI stage: {not_done[:5]}")
    with session_scope(runtime.sessions) as session:
        first, last = session.execute(
            select(
                func.min(ItemAttempt.started_at), func.max(ItemAttempt.finished_at)
            ).where(ItemAttempt.stage == "parsing")
        ).one()
        rows = session.execute(
            select(Link.url, ParsedContent.text).join(
                ParsedContent, ParsedContent.link_id == Link.id
            )
        ).all()
        queued_ai = runtime.redis.llen("rq:queue:ai")
    if first is None or last is None:
        raise SystemExit("no parsing attempts were recorded")
    span = (last - first).total_seconds()
    runtime.close()
    print(
        f"  {workers} worker(s): {len(rows)} ParsedContent rows, {queued_ai} AI jobs queued, span {span:.2f}s, "
        f"worker CPU {1000 * cpu / len(ids):.1f} ms/page ({cpu / span:.0%} of a core)"
    )
    return len(ids) / span, {urls[url]: text for url, text in rows}


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc), 0 where there is no /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


PROFILE_IDLE = False
"""--profile-wall: py-spy also samples waiting threads (a job thread's samples then add up to its wall
time); by default only the thread holding the GIL is sampled: the work one process does one piece at
a time, whatever its thread count (py-spy's own idle detection counts threads waiting on a lock or
a socket as busy, so its default mode is no measure of CPU here)."""


def spy(pid: int, profile: Path, n: int) -> subprocess.Popen[bytes]:
    """py-spy recording one worker process: every thread's stack, 250 samples/s, raw stacks."""
    profile.mkdir(parents=True, exist_ok=True)
    command = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid)]
    command += ["--idle"] if PROFILE_IDLE else ["--gil"]
    command += ["--threads", "--rate", "250", "--format", "raw"]
    command += ["--output", str(profile / f"worker-{n}.txt")]
    sampler = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(0.5)  # attached before the first job
    return sampler


def load_average() -> float:
    return os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--concurrency", type=int, default=4, help="GLEANER_WORKER_CONCURRENCY"
    )
    parser.add_argument("--skip-variants", action="store_true")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="py-spy each worker into this directory (round-numbered files; slows the stage a little)",
    )
    parser.add_argument(
        "--profile-wall",
        action="store_true",
        help="with --profile: sample every thread, waiting or not (wall time), not only the GIL's holder",
    )
    args = parser.parse_args()
    global PROFILE_IDLE
    PROFILE_IDLE = args.profile_wall
    truth = json.loads((CORPUS / "ground-truth.json").read_text("utf-8"))
    pages = load_pages()
    print(f"load average at start: {os.getloadavg()}")

    base_f1, _ = baseline(pages, truth)  # warm-up pass: imports, caches
    print(f"baseline: bare trafilatura.extract, in process: F1 {base_f1:.4f}")

    if not args.skip_variants:
        print(
            "extractor variants, in process (ratio against a baseline pass just before)"
        )
        for name, options in VARIANTS.items():
            _, base_pps = baseline(pages, truth)
            f1, pps = variant(pages, truth, options)
            print(
                f"  {name:50s} F1 {f1:.4f}  {pps:6.1f} pages/s  ({pps / base_pps:.0%} of {base_pps:.1f})"
            )

    with tempfile.TemporaryDirectory(prefix="gleaner-bench-") as tmp:
        workdir = Path(tmp)
        redis_proc, redis_url = start_redis_server(workdir)
        server = PageServer(bench_dir=CORPUS / "html").start()
        os.environ["GLEANER_WORKER_CONCURRENCY"] = str(args.concurrency)
        ratios: dict[int, list[float]] = {w: [] for w in args.workers}
        speeds: dict[int, list[float]] = {w: [] for w in args.workers}
        bases: list[float] = []
        last_texts: dict[int, dict[str, str]] = {}
        try:
            before = baseline(pages, truth)[1]
            bases.append(before)
            for round_no in range(1, args.repeats + 1):
                for workers in args.workers:
                    load = load_average()
                    where = (
                        args.profile / f"round{round_no}-{workers}x{args.concurrency}"
                        if args.profile
                        else None
                    )
                    pps, texts = run_stage(
                        workdir, server, redis_url, sorted(pages), workers, where
                    )
                    after = baseline(pages, truth)[1]
                    bases.append(after)
                    ratio = pps / ((before + after) / 2)
                    ratios[workers].append(ratio)
                    speeds[workers].append(pps)
                    last_texts[workers] = texts
                    print(
                        f"  round {round_no}, {workers} worker process(es) x {args.concurrency} threads: "
                        f"{pps:.1f} pages/s; baseline {before:.1f} before, {after:.1f} after: "
                        f"ratio {ratio:.0%} (load {load:.2f})"
                    )
                    before = after
            print(
                f"baseline median {statistics.median(bases):.1f} pages/s over {len(bases)} passes, "
                f"CPU {1000 * statistics.median(BASELINE_CPU) / len(pages):.1f} ms/page"
            )
            for workers in args.workers:
                pred = workdir / f"pred-{workers}.json"
                pred.write_text(
                    json.dumps(last_texts[workers], ensure_ascii=False), "utf-8"
                )
                scored = subprocess.run(
                    [sys.executable, str(ROOT.parent / "shared" / "tools" / "score_extraction.py"), str(pred)],
                    capture_output=True, text=True, check=True,
                ).stdout.strip()  # fmt: skip
                print(
                    f"{workers} worker process(es): median {statistics.median(speeds[workers]):.1f} pages/s, "
                    f"median ratio {statistics.median(ratios[workers]):.0%} "
                    f"(runs: {', '.join(f'{r:.0%}' for r in ratios[workers])}); ParsedContent scored: {scored}"
                )
            print(f"load average at end: {os.getloadavg()}")
        finally:
            server.stop()
            stop_process(redis_proc)


if __name__ == "__main__":
    main()
