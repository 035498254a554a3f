"""`python -m gleaner_ai`: the ai worker."""

from gleaner.worker import run

if __name__ == "__main__":
    raise SystemExit(run("ai"))
