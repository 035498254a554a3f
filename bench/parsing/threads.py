"""Reproduces the SIGSEGV of concurrent extraction in one process, with and without gleaner's lock.

  uv run python bench/parsing/threads.py [--runs 120] [--threads 4]

Each run is a fresh process whose threads are released at once (a barrier) into extraction of 4
benchmark pages each, as a worker's job threads are when a batch arrives. `unlocked` calls the
extractor's body directly; `locked` goes through `extract_article`, which holds the process's
extraction lock. A run that dies of a signal is counted; its faulthandler dump is kept under /tmp.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpora" / "article-extraction-benchmark"


def child(mode: str, threads: int, offset: int) -> None:
    import faulthandler

    faulthandler.enable()
    from gleaner_parsing.extractor import (
        DEFAULT_OPTIONS,
        _extract_html,
        extract_article,
    )

    truth = json.loads((CORPUS / "ground-truth.json").read_text("utf-8"))
    pages = [
        (
            truth[path.name.split(".")[0]]["url"],
            gzip.decompress(path.read_bytes()).decode(),
        )
        for path in sorted((CORPUS / "html").glob("*.html.gz"))
    ]
    start = threading.Barrier(threads)

    def work(index: int) -> None:
        start.wait()
        for step in range(4):
            url, html = pages[(offset + index * 4 + step) % len(pages)]
            if mode == "locked":
                extract_article(html, url)
            else:
                _extract_html(html, url, DEFAULT_OPTIONS)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=120)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "OFFSET"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.threads, int(args.child[1]))
        return
    dumps = Path(tempfile.mkdtemp(prefix="gleaner-threads-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for mode in ("unlocked", "locked"):
        crashes = []
        for run in range(args.runs):
            proc = subprocess.run(
                [sys.executable, __file__, "--threads", str(args.threads), "--child", mode, str(run * 13)],
                env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            if proc.returncode != 0:
                crashes.append(proc.returncode)
                (dumps / f"{mode}-{run}.txt").write_text(proc.stderr, "utf-8")
        print(
            f"{mode:8s}: {len(crashes)} of {args.runs} runs died (exit codes {sorted(set(crashes))}); "
            f"dumps in {dumps}"
        )


if __name__ == "__main__":
    main()
