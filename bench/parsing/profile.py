"""Where one parsing worker's time goes, page by page: py-spy's raw stacks sorted into the stage's parts.

    uv run python bench/parsing/run.py --repeats 1 --workers 1 --concurrency 1 --skip-variants \\
        --profile PROFILE_DIR [--profile-wall]
    uv run python bench/parsing/profile.py PROFILE_DIR/round1-1x1/worker-0.txt [--pages 181]

Each sample is counted once, in the first part (in the order of PARTS) whose marker is in its stack,
so the shares add up to 100 % of the job threads' samples. With `--profile-wall` (py-spy --idle)
a job thread's samples add up to its wall time, waits included; without it only the thread holding
the GIL is sampled (the process's serial work, which bounds one process whatever its threads). The other threads (heartbeats, watchdog, main loop) are listed apart.
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

PARTS = {
    # RQ imports a job's module on its first call, before the job's claim: outside the measured span
    "imports (first job, before its claim)": "import_attribute (rq/utils.py",
    "extract: parse (trafilatura.load_html)": "load_html (trafilatura/",
    "extract: metadata (read_metadata)": "read_metadata (gleaner_parsing/",
    "extract: trafilatura.bare_extraction": "bare_extraction (trafilatura/",
    "extract: language (CLD2)": "detect_language (gleaner/",
    "extract: cleanup rules": "clean_text (gleaner_parsing/",
    "extract: readability fallback": "readability_text (gleaner_parsing/",
    "extract: rest (hash, canonical, lock)": "extract_article (gleaner_parsing/",
    "fetch: per-host slot (Redis)": "gleaner_parsing/hostlimit.py",
    "fetch: charset decoding": "decode_body (gleaner_parsing/",
    "fetch: gzip (httpx decoder)": "httpx/_decoders.py",
    "fetch: HTTP request and response (httpx)": "fetch (gleaner_parsing/fetcher.py",
    "job body: checkpoints (Redis)": "checkpoint (gleaner/execution.py",
    "job body: ParsedContent upsert (SQL)": "store_parsed_content (gleaner_parsing/",
    "job body: rest (Link read)": "parse_body (gleaner_parsing/",
    "runner: claim (SQL)": "claim (gleaner/execution.py",
    "runner: complete_stage (SQL)": "complete_stage (gleaner/items.py",
    "runner: commit (SQL)": "commit (sqlalchemy/",
    "runner: next stage's enqueue (Redis)": "enqueue_item_jobs (gleaner/queues.py",
    "runner: rest (session, metrics, log)": "execute_item (gleaner/execution.py",
    "RQ: dequeue (pop, or wait for, next job)": "dequeue_job_and_maintain_ttl",
    "RQ: before the job (prepare_job_execution)": "prepare_job_execution",
    "RQ: after the job (handle_job_success)": "handle_job_success",
    "RQ: rest of its per-job loop": "rq/",
}


def read(path: Path) -> list[tuple[str, str, int]]:
    """(thread name, stack, samples) per distinct stack of py-spy's raw output (with --threads)."""
    rows = []
    for line in path.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        thread, _, frames = stack.partition(";")
        name = thread.partition(": ")[2] or thread
        rows.append((name, frames, int(samples)))
    return rows


def report(path: Path, pages: int, rate: int) -> None:
    rows = read(path)
    jobs = [(s, n) for name, s, n in rows if name.startswith("rq-worker")]
    total = sum(n for _, n in jobs)
    parts: collections.Counter[str] = collections.Counter()
    for stack, n in jobs:
        part = next((p for p, marker in PARTS.items() if marker in stack), "other")
        parts[part] += n
    threads = len({name for name, _, _ in rows if name.startswith("rq-worker")})
    print(
        f"{path}: {total} samples in {threads} job thread(s), {pages} pages, {rate} samples/s"
    )
    print(f"  {'part':45s} {'share':>7s} {'ms/page':>8s}")
    extraction = 0
    for part in [*PARTS, "other"]:
        n = parts.get(part, 0)
        if part.startswith("extract"):
            extraction += n
        if n:
            print(
                f"  {part:45s} {100 * n / total:6.1f}% {1000 * n / rate / pages:8.2f}"
            )
    busy = total - parts.get("imports (first job, before its claim)", 0)
    print(
        f"  extraction: {100 * extraction / busy:.1f}% of the job threads' samples outside the "
        f"first job's imports ({1000 * extraction / rate / pages:.1f} of "
        f"{1000 * busy / rate / pages:.1f} ms/page); everything else "
        f"{1000 * (busy - extraction) / rate / pages:.1f} ms/page"
    )
    others: collections.Counter[str] = collections.Counter()
    for name, _, n in rows:
        if not name.startswith("rq-worker"):
            others[name] += n
    for name, n in others.most_common():
        print(f"  other thread {name:32s} {1000 * n / rate / pages:8.2f} ms/page")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("raw", type=Path, nargs="+")
    parser.add_argument("--pages", type=int, default=181)
    parser.add_argument("--rate", type=int, default=250, help="py-spy's --rate")
    args = parser.parse_args()
    for path in args.raw:
        report(path, args.pages, args.rate)


if __name__ == "__main__":
    main()
