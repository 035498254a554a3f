"""AI-stage benchmark: the offline provider on 2,000-word articles, alone and inside one real ai worker.

  uv run python bench/ai/run.py [--items 200] [--rounds 5]

Texts: the first 2,000 words (cut at a paragraph end) of every article in
../shared/corpora/article-extraction-benchmark whose true body is at least that long — real news and
blog prose, one topic each.

1. Provider, in this process: `OfflineProvider.process` over every text, `--rounds` times after one
   warm-up; median ms per document, and the medians of its three parts (summary, keywords, insights).
2. One worker: a task of `--items` parsed articles (the texts, repeated) with stages ("ai",), submitted
   like the API does, run by one `python -m gleaner_ai --burst` process (SQL read, provider, upsert,
   item transition). Items/s is the span from the first attempt's start to the last attempt's end, taken
   from SQL, so process start-up is not counted; the worker's peak RSS is reported too.
3. Same-run baseline: the same worker over the same number of items running a no-op job
   (tests.jobs.succeed) — what the job machinery alone costs per item.

The original design's figure is 0.5–1 item per minute per worker (three hosted-model calls per item);
the ratios below are against it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]

from sqlalchemy import func, select  # noqa: E402

from gleaner.db import migrate, session_scope  # noqa: E402
from gleaner.models import ItemAttempt, Link, ParsedContent  # noqa: E402
from gleaner.runtime import Runtime  # noqa: E402
from gleaner.settings import Settings  # noqa: E402
from gleaner.tasks import ItemInput  # noqa: E402
from gleaner_ai.providers.base import ProcessingOptions  # noqa: E402
from gleaner_ai.providers.insights import extract_insights  # noqa: E402
from gleaner_ai.providers.offline import OfflineProvider, split_sentences  # noqa: E402
from tests.factories import get_task, submit_task  # noqa: E402
from tests.servers import start_redis_server, stop_process  # noqa: E402

CORPUS = (
    ROOT.parent
    / "shared"
    / "corpora"
    / "article-extraction-benchmark"
    / "ground-truth.json"
)
WORDS = 2000
ORIGINAL_PER_MINUTE = (0.5, 1.0)


def load_texts() -> list[str]:
    """First WORDS words of each long enough article, ending at a paragraph."""
    truth = json.loads(CORPUS.read_text(encoding="utf-8"))
    texts = []
    for entry in truth.values():
        body = entry["articleBody"]
        if len(body.split()) < WORDS:
            continue
        kept: list[str] = []
        count = 0
        for paragraph in body.splitlines():
            if count >= WORDS:
                break
            kept.append(paragraph)
            count += len(paragraph.split())
        texts.append("\n".join(kept))
    return texts


def median_ms(samples: list[float]) -> float:
    return 1000 * statistics.median(samples)


def bench_provider(texts: list[str], rounds: int) -> dict[str, float]:
    provider = OfflineProvider()
    options = ProcessingOptions()
    for text in texts:
        provider.process(
            text, None, options
        )  # warm-up: imports, stop-word sets, regexes
    whole: list[float] = []
    parts: dict[str, list[float]] = {"summary": [], "keywords": [], "insights": []}
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter()
            provider.process(text, None, options)
            whole.append(time.perf_counter() - start)
            sentences = split_sentences(text)
            start = time.perf_counter()
            summary = provider.summarize(sentences)
            parts["summary"].append(time.perf_counter() - start)
            start = time.perf_counter()
            keywords = provider.keywords(text)
            parts["keywords"].append(time.perf_counter() - start)
            start = time.perf_counter()
            extract_insights(sentences, keywords, exclude=summary)
            parts["insights"].append(time.perf_counter() - start)
    result = {
        "docs": len(whole),
        "median_ms": median_ms(whole),
        "docs_per_s": 1 / statistics.median(whole),
    }
    result.update({f"{name}_ms": median_ms(samples) for name, samples in parts.items()})
    return result


def run_worker(
    workdir: Path,
    redis_url: str,
    texts: list[str],
    items: int,
    job_path: str | None,
    concurrency: int,
) -> dict[str, float]:
    """Items/s over the SQL span, and wall seconds, for one burst worker process over `items` items."""
    db = workdir / f"ai-{job_path or 'offline'}-{concurrency}.db"
    env = {
        "GLEANER_ENV": "test",
        "GLEANER_DATABASE_URL": f"sqlite:///{db}",
        "GLEANER_REDIS_URL": redis_url,
        "GLEANER_DATA_DIR": str(workdir),
        "GLEANER_LOG_LEVEL": "WARNING",
        "GLEANER_WORKER_METRICS_PORT": "0",
        "GLEANER_AI_RETRY_DELAYS": "0",
    }
    migrate(env["GLEANER_DATABASE_URL"])
    settings = Settings.model_validate(
        {key.removeprefix("GLEANER_"): value for key, value in env.items()}
    )
    runtime = Runtime.start(settings)
    try:
        runtime.redis.flushdb()
        with session_scope(runtime.sessions) as session:
            inputs = []
            for n in range(items):
                text = texts[n % len(texts)]
                link = Link(
                    owner="bench",
                    url=f"https://example.com/{n}",
                    normalized_url=f"https://example.com/{n}",
                )
                session.add(link)
                session.flush()
                parsed = ParsedContent(
                    link_id=link.id,
                    final_url=link.url,
                    text=text,
                    language="en",
                    word_count=len(text.split()),
                    content_hash=hashlib.sha256(text.encode()).hexdigest(),
                )
                session.add(parsed)
                session.flush()
                inputs.append(
                    ItemInput(
                        item_id=parsed.id,
                        item_type="parsed_content",
                        parsed_content_id=parsed.id,
                    )
                )
        task_id = submit_task(
            runtime, inputs, stages=("ai",), owner="bench", job_path=job_path
        )
        process_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "gleaner_ai",
                "--burst",
                "--concurrency",
                str(concurrency),
            ],
            env=process_env,
            cwd=ROOT,
            check=True,
            timeout=1800,
        )
        wall = time.perf_counter() - start
        task = get_task(runtime, task_id)
        if task.completed_items != items:
            raise SystemExit(
                f"only {task.completed_items} of {items} items completed: {task.status}"
            )
        with session_scope(runtime.sessions) as session:
            first, last = session.execute(
                select(
                    func.min(ItemAttempt.started_at), func.max(ItemAttempt.finished_at)
                )
            ).one()
        if first is None or last is None:
            raise SystemExit("no attempts recorded")
        span = (last - first).total_seconds()
        return {"items_per_s": items / span, "span_s": span, "wall_s": wall}
    finally:
        runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    texts = load_texts()
    words = [len(t.split()) for t in texts]
    print(
        f"texts: {len(texts)} articles, {min(words)}–{max(words)} words (median {statistics.median(words):.0f})"
    )

    provider = bench_provider(texts, args.rounds)
    print(
        f"\n1. provider in process ({provider['docs']:.0f} runs): median {provider['median_ms']:.1f} ms/doc"
        f" = {provider['docs_per_s']:.1f} docs/s; parts: summary {provider['summary_ms']:.1f} ms,"
        f" keywords {provider['keywords_ms']:.1f} ms, insights {provider['insights_ms']:.1f} ms"
    )

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        redis_process, redis_url = start_redis_server(workdir)
        try:
            worker = run_worker(workdir, redis_url, texts, args.items, None, 1)
            rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            threaded = run_worker(workdir, redis_url, texts, args.items, None, 4)
            noop = run_worker(
                workdir, redis_url, texts, args.items, "tests.jobs.succeed", 1
            )
        finally:
            stop_process(redis_process)
    per_minute = worker["items_per_s"] * 60
    print(
        f"\n2. one ai worker process, 1 job at a time, {args.items} items: {worker['items_per_s']:.2f} items/s"
        f" ({per_minute:.0f}/min) over a {worker['span_s']:.1f} s span; {worker['wall_s']:.1f} s wall with"
        f" start-up; peak RSS {rss_mb:.0f} MB"
    )
    print(
        f"   the same with 4 threads (WORKER_CONCURRENCY default): {threaded['items_per_s']:.2f} items/s"
        f" = {threaded['items_per_s'] / worker['items_per_s']:.2f}× (one process, 4 threads)"
    )
    print(
        f"3. same worker, no-op job: {noop['items_per_s']:.1f} items/s"
        f" → machinery {1000 / noop['items_per_s']:.1f} ms/item of the {1000 / worker['items_per_s']:.1f} ms/item"
    )
    low, high = ORIGINAL_PER_MINUTE
    print(
        f"\nvs the original design's {low}–{high} item/min per worker:"
        f" {per_minute / high:.0f}–{per_minute / low:.0f}× more items per worker"
    )


if __name__ == "__main__":
    main()
