"""`python -m gleaner_notion`: the notion worker."""

from gleaner.worker import run

raise SystemExit(run("notion"))
