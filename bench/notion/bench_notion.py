"""Requests per second the notion stage achieves against Notion's 3 requests/second budget.

For 1, 2 and 4 worker processes (each with the default WORKER_CONCURRENCY threads): a private Redis, a
migrated SQLite database, the local Notion API of the tests (tests/notion/notion_server.py) enforcing
3 requests/s with a burst of 3 like Notion, GLEANER_NOTION_REQUESTS_PER_SECOND=3, and PAGES items. The
rate is measured on the server: requests it let through, from the first to the last. Prints a table.

    uv run python -m bench.notion.bench_notion [--pages 45] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUDGET = 3.0


def run_once(
    workers: int, pages: int, redis_url: str, workdir: Path, burst: int
) -> dict[str, float]:
    from gleaner.db import migrate
    from gleaner.runtime import Runtime
    from gleaner.settings import Settings
    from tests.factories import get_task
    from tests.notion.factories import create_ai_contents, submit_notion_task
    from tests.notion.notion_server import NotionServer

    server = NotionServer(token="secret_bench", rate=BUDGET, burst=BUDGET).start()
    database = server.add_database()
    db_url = f"sqlite:///{workdir / f'bench-{workers}-{time.monotonic_ns()}.db'}"
    migrate(db_url)
    env = {
        **os.environ,
        "GLEANER_ENV": "test",
        "GLEANER_LOG_LEVEL": "WARNING",
        "GLEANER_DATABASE_URL": db_url,
        "GLEANER_REDIS_URL": redis_url,
        "GLEANER_NOTION_TOKEN": "secret_bench",
        "GLEANER_NOTION_BASE_URL": server.url,
        "GLEANER_NOTION_REQUESTS_PER_SECOND": str(BUDGET),
        "GLEANER_NOTION_BURST": str(burst),
        "GLEANER_NOTION_RETRY_DELAYS": "0",
        "GLEANER_WORKER_METRICS_PORT": "0",
        "PYTHONPATH": str(ROOT),
    }
    settings = Settings(DATABASE_URL=db_url, REDIS_URL=redis_url)
    runtime = Runtime.start(settings)
    runtime.redis.flushdb()
    ai_ids = create_ai_contents(
        runtime, [f"https://example.com/bench/{n}" for n in range(pages)]
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "gleaner_notion"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    time.sleep(
        2
    )  # let every worker start before the jobs arrive: measure the budget, not start-up
    task_id = submit_notion_task(runtime, ai_ids, database.id)
    deadline = time.monotonic() + pages / BUDGET * 3 + 60
    while time.monotonic() < deadline:
        task = get_task(runtime, task_id)
        if task.completed_items + task.failed_items == pages:
            break
        time.sleep(0.5)
    task = get_task(runtime, task_id)
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)
    served = sorted(server.state.served_at)
    server.stop()
    runtime.close()
    rate = (len(served) - 1) / (served[-1] - served[0]) if len(served) > 1 else 0.0
    failed_429 = sum(
        1
        for item in task.items
        if item.status == "failed" and item.error_code == "rate_limited"
    )
    return {
        "requests": len(served),
        "rate": rate,
        "share": rate / BUDGET,
        "429": server.state.statuses[429],
        "failed": task.failed_items,
        "failed_429": failed_429,
        "duplicates": sum(count - 1 for count in server.pages_by_url().values()),
        "completed": task.completed_items,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=45)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument(
        "--client-burst", type=int, default=int(BUDGET), help="GLEANER_NOTION_BURST"
    )
    args = parser.parse_args()
    from tests.servers import start_redis_server, stop_process

    with tempfile.TemporaryDirectory() as tmp:
        redis_process, redis_url = start_redis_server(Path(tmp))
        try:
            print(
                f"budget {BUDGET:g} req/s (server burst {BUDGET:g}), client burst {args.client_burst}, {args.pages} pages per run, {args.repeats} runs per row"
            )
            print(
                "| worker processes | median req/s | share of budget (min–max) | 429s seen | items failed (by 429) | duplicate pages |"
            )
            print("|---|---|---|---|---|---|")
            for workers in [int(n) for n in args.workers.split(",")]:
                runs = [
                    run_once(
                        workers, args.pages, redis_url, Path(tmp), args.client_burst
                    )
                    for _ in range(args.repeats)
                ]
                shares = [run["share"] for run in runs]
                print(
                    f"| {workers} | {statistics.median(run['rate'] for run in runs):.2f} "
                    f"| {statistics.median(shares):.1%} ({min(shares):.1%}–{max(shares):.1%}) "
                    f"| {sum(int(run['429']) for run in runs)} "
                    f"| {sum(int(run['failed']) for run in runs)} ({sum(int(run['failed_429']) for run in runs)}) "
                    f"| {sum(int(run['duplicates']) for run in runs)} |",
                    flush=True,
                )
        finally:
            stop_process(redis_process)


if __name__ == "__main__":
    main()
