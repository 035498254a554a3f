"""`python -m gleaner_ai`: the ai worker."""

from gleaner.worker import run

raise SystemExit(run("ai"))
