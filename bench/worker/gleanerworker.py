"""`python -m bench.worker.gleanerworker --concurrency N`: Gleaner's worker as it ships, burst mode."""

from __future__ import annotations

import sys

from gleaner.worker import run

if __name__ == "__main__":
    raise SystemExit(run("parsing", ["--burst", *sys.argv[1:]]))
