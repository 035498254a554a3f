"""What one 10,000-link submit costs the API, in process: CPU seconds, wall seconds, and a profile.

    uv run python -m bench.api.submit [--postgres URL] [--repeat 5] [--items 10000] [--profile N] [--gc]

A private redis-server and a fresh SQLite file (or PostgreSQL database), migrated; the real app
(`create_app`) driven by Starlette's TestClient, so the figures include reading and validating the
request body, the handler and writing the 202 answer, but no HTTP socket. One small warm-up submit
first (the first request of a process imports and compiles what later ones reuse), then --repeat
submits of --items new URLs each; prints the median process CPU and wall time per submit. With
--profile N, prints the N functions with the most time (--sort) in one more submit, run_pipeline
called directly (cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.worker.run import private_backends

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default="")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument(
        "--url-base",
        default="http://127.0.0.1:9/article",
        help="the submitted URLs are BASE/<tag>-<n> (bench/api/run.py's are on 127.0.0.1)",
    )
    parser.add_argument(
        "--gc", action="store_true", help="print the collector's runs and their CPU"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-submit-") as tmp:
        with private_backends(Path(tmp), args.postgres) as (redis_url, database_url):
            run(args, redis_url, database_url)


def run(args: argparse.Namespace, redis_url: str, database_url: str) -> None:
    os.environ.update(
        {
            "GLEANER_ENV": "test",
            "GLEANER_REDIS_URL": redis_url,
            "GLEANER_DATABASE_URL": database_url,
            "GLEANER_AUTH_ENABLED": "true",
            "GLEANER_LOG_LEVEL": "WARNING",
            "GLEANER_MAX_BATCH_SIZE": str(max(args.items, 10)),
        }
    )
    subprocess.run(
        [sys.executable, "-m", "gleaner_api", "migrate"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    from fastapi.testclient import TestClient

    from gleaner.apikeys import create_api_key
    from gleaner.db import session_scope
    from gleaner.runtime import Runtime
    from gleaner.settings import Settings
    from gleaner_api.app import create_app

    settings = Settings()
    runtime = Runtime.start(settings)
    with session_scope(runtime.sessions) as session:
        _, key = create_api_key(session, "bench", "bench")
    runtime.close()

    def urls(n: int) -> list[str]:
        tag = uuid.uuid4().hex[:8]
        return [f"{args.url_base}/{tag}-{i}" for i in range(n)]

    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {key}"

        def submit(batch: list[str]) -> None:
            answer = client.post(
                "/api/pipelines", json={"urls": batch, "stages": ["parsing"]}
            )
            assert answer.status_code == 202, answer.text[:500]

        submit(urls(10))
        if args.gc:
            pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
            starts: list[float] = []

            def on_gc(phase: str, info: dict[str, int]) -> None:
                if phase == "start":
                    starts.append(time.process_time())
                else:
                    pauses[info["generation"]].append(
                        time.process_time() - starts.pop()
                    )

            gc.callbacks.append(on_gc)
        cpu: list[float] = []
        system: list[float] = []
        wall: list[float] = []
        for _ in range(args.repeat):
            batch = urls(args.items)
            before = resource.getrusage(resource.RUSAGE_SELF)
            started = time.perf_counter()
            submit(batch)
            wall.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_SELF)
            system.append(after.ru_stime - before.ru_stime)
            cpu.append(after.ru_utime - before.ru_utime + system[-1])
        if args.gc:
            for generation, times in pauses.items():
                print(f"gc gen {generation}: {len(times)} runs, {sum(times):.3f} s CPU")
        print(
            f"{args.items} links, {'postgresql' if args.postgres else 'sqlite'}, "
            f"load {os.getloadavg()[0]:.1f}: CPU median {statistics.median(cpu):.3f} s "
            f"(min {min(cpu):.3f}), wall median {statistics.median(wall):.3f} s "
            f"(min {min(wall):.3f}); CPU {' '.join(f'{c:.2f}' for c in cpu)}, "
            f"of which system {' '.join(f'{c:.2f}' for c in system)}",
            flush=True,
        )
        if args.profile:
            profile(args, settings, urls(args.items))


def profile(args: argparse.Namespace, settings: Any, batch: list[str]) -> None:
    """cProfile of the handler called directly in this thread (TestClient runs it in another): the
    body validated as FastAPI would, run_pipeline, and the answer serialised."""
    from pydantic import TypeAdapter

    from gleaner.runtime import Runtime
    from gleaner_api.routers.pipelines import run_pipeline
    from gleaner_api.schemas import PipelineCreate, TaskQueued

    runtime = Runtime.start(settings)
    answer = TypeAdapter(TaskQueued)
    raw = json.dumps({"urls": batch, "stages": ["parsing"]}).encode()
    profiler = cProfile.Profile(time.process_time)  # CPU: the machine is shared
    session = runtime.sessions()
    try:
        profiler.enable()
        body = PipelineCreate.model_validate_json(raw)
        answer.dump_json(run_pipeline(body, session, runtime, "bench"))
        profiler.disable()
    finally:
        session.close()
        runtime.close()
    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.profile)


if __name__ == "__main__":
    main()
