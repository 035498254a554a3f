"""`python -m gleaner_notion`: the notion worker."""

from gleaner.worker import run

if __name__ == "__main__":
    raise SystemExit(run("notion"))
