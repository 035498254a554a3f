"""`python -m gleaner_parsing`: the parsing worker."""

from gleaner.worker import run

raise SystemExit(run("parsing"))
