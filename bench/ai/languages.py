"""The offline digest per language: time per document and memory, this tree against main at 6253a66.

  uv run python bench/ai/languages.py [--rounds 5] [--baseline-commit 6253a66]

Documents: the twelve articles of tests/multilingual (title + paragraphs, 5 paragraphs each) and the
three English ones of tests/ai/texts. For every language and each code version, a fresh interpreter
imports the provider, digests the document once (cold: imports, dictionaries and models the language
needs), then `--rounds` more times (warm median), and reports its peak RSS. The baseline is the same
script run against a git worktree of the baseline commit made for the run (its services/worker-ai and
libs/core first on sys.path, the same virtualenv), so both versions see the same machine at the same
time; the order alternates per language. The baseline gets the language main's parsing stage stored:
the page's `<html lang>` (none for ko, th, he, vi; "en" on the Turkish page).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]

from tests.ai.conftest import ARTICLES as ENGLISH  # noqa: E402
from tests.ai.conftest import article  # noqa: E402
from tests.multilingual.articles import ARTICLES  # noqa: E402

CHILD = r"""
import json, resource, sys, time
code_root, text_path, language, rounds = sys.argv[1], sys.argv[2], sys.argv[3] or None, int(sys.argv[4])
if code_root:
    sys.path[:0] = [code_root + "/services/worker-ai", code_root + "/libs/core"]
start = time.perf_counter()
from gleaner_ai.providers.base import ProcessingOptions
from gleaner_ai.providers.offline import OfflineProvider
title, _, text = open(text_path, encoding="utf-8").read().partition("\n")
provider = OfflineProvider()
options = ProcessingOptions(language=language)
result = provider.process(text, title, options)
cold = time.perf_counter() - start
warm = []
for _ in range(rounds):
    t = time.perf_counter()
    provider.process(text, title, options)
    warm.append(time.perf_counter() - t)
import gleaner_ai
print(json.dumps({
    "cold_ms": cold * 1000,
    "warm_ms": sorted(warm)[len(warm) // 2] * 1000,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "summary": result.summary, "keywords": result.keywords, "insights": result.insights,
    "module": gleaner_ai.__file__,
}, ensure_ascii=False))
"""


def documents() -> list[tuple[str, str, str | None, str | None]]:
    """(label, title + text, language for this tree, language main's parsing stage stored)."""
    docs: list[tuple[str, str, str | None, str | None]] = [
        (a.language, a.title + "\n" + "\n".join(a.paragraphs), a.language, a.declared)
        for a in ARTICLES
    ]
    for name in ENGLISH:
        body = article(name)
        docs.append((f"en ({name})", "\n" + body, "en", "en"))
    return docs


def run(
    code_root: str, path: Path, language: str | None, rounds: int
) -> dict[str, object]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            code_root,
            str(path),
            language or "",
            str(rounds),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if (
        done.returncode != 0
    ):  # main's provider crashes on some languages: that is a result too
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "?"
        return {"error": last[:160], "module": code_root}
    result: dict[str, object] = json.loads(done.stdout)
    return result


def cells(result: dict[str, object]) -> str:
    if "error" in result:
        return f"fails: {result['error']} | – | – "
    return (
        f"{result['cold_ms']:.0f} | {result['warm_ms']:.0f} | {result['rss_mb']:.0f} "
    )


def ratio(ours: dict[str, object], main_: dict[str, object]) -> float | None:
    if "error" in ours or "error" in main_:
        return None
    return float(str(ours["warm_ms"])) / float(str(main_["warm_ms"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline-commit", default="6253a66")
    parser.add_argument("--save", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "worktree",
                "add",
                "--detach",
                "-q",
                str(base),
                args.baseline_commit,
            ],
            check=True,
        )
        try:
            rows = measure(base, Path(tmp), args.rounds)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                check=False,
            )
    print(
        "| language | this tree: cold ms | warm ms/doc | peak RSS MB | main: cold ms | warm ms/doc | peak RSS MB | warm ratio |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, ours, main_ in rows:
        r = ratio(ours, main_)
        print(
            f"| {label} | {cells(ours)}| {cells(main_)}| {'–' if r is None else f'{r:.2f}'} |"
        )
    warm = [r for _, o, m in rows if (r := ratio(o, m)) is not None]
    print(f"median warm ratio (this tree / main): {statistics.median(warm):.2f}")
    if args.save:
        args.save.write_text(
            json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8"
        )


def measure(
    base: Path, tmp: Path, rounds: int
) -> list[tuple[str, dict[str, object], dict[str, object]]]:
    rows = []
    for index, (label, text, ours_lang, main_lang) in enumerate(documents()):
        path = tmp / f"doc{index}.txt"
        path.write_text(text, encoding="utf-8")
        if index % 2:
            main_ = run(str(base), path, main_lang, rounds)
            ours = run("", path, ours_lang, rounds)
        else:
            ours = run("", path, ours_lang, rounds)
            main_ = run(str(base), path, main_lang, rounds)
        assert str(base) in str(main_["module"]), main_["module"]
        rows.append((label, ours, main_))
        print(
            f"{label}: {cells(ours)}vs {cells(main_)}",
            file=sys.stderr,
            flush=True,
        )
    return rows


if __name__ == "__main__":
    main()
