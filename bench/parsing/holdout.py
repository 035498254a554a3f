"""Extractor options chosen by hold-out on the 181-page article-extraction benchmark.

  uv run python bench/parsing/holdout.py [--seed 16]

The pages are shuffled with a fixed seed and split into a tuning half and a test half. Every candidate
(trafilatura's own switches and each cleanup rule of gleaner_parsing.cleanup, added one at a time to
the options in force) is scored on both halves in the same run, beside plain `trafilatura.extract(html)`
and `bare_extraction(html)` with its defaults. A candidate is chosen on the tuning half only; the table
then says whether it also wins on the test half, which is the only evidence it is kept on.
Scores: ../shared/tools/score_extraction.py (4-word shingles, F1 of mean P and mean R).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT.parent / "shared" / "tools")]

import score_extraction  # type: ignore[import-not-found]  # noqa: E402
import trafilatura  # noqa: E402
from trafilatura import load_html  # noqa: E402

from bench.parsing.run import CORPUS, load_pages  # noqa: E402
from gleaner_parsing.extractor import (  # noqa: E402
    DEFAULT_OPTIONS,
    ExtractOptions,
    clean_text,
    extract_article,
)
from gleaner_parsing.metadata import read_metadata  # noqa: E402

NONE = ExtractOptions(
    favor_recall=False,
    fast=False,
    reflow=False,
    drop_heading=False,
    drop_pointers=False,
    drop_calls_to_action=False,
    drop_timestamps=False,
    drop_shouting=False,
    drop_trailing_list=False,
)
"""trafilatura's defaults through our extractor, with no cleanup rule."""

EXTRACTION_SWITCHES = ["fast", "favor_recall", "favor_precision"]
CLEANUP_SWITCHES = [
    "reflow",
    "drop_heading",
    "drop_pointers",
    "drop_calls_to_action",
    "drop_timestamps",
    "drop_shouting",
    "drop_trailing_list",
]


def split(ids: list[str], seed: int) -> tuple[list[str], list[str]]:
    shuffled = sorted(ids)
    random.Random(seed).shuffle(shuffled)
    half = len(shuffled) // 2
    return sorted(shuffled[:half]), sorted(shuffled[half:])


class Bench:
    """Pages, truth, halves; trafilatura's output cached per extraction setting, cleanup applied on it."""

    def __init__(self, seed: int) -> None:
        self.truth = json.loads(
            (CORPUS / "ground-truth.json").read_text(encoding="utf-8")
        )
        self.pages = load_pages()
        tune, test = split(list(self.truth), seed)
        self.halves = {"tune": tune, "test": test, "all": sorted(self.truth)}
        self.meta = {
            pid: read_metadata(
                load_html(html), self.truth[pid]["url"], {"extensive_search": False}
            )
            for pid, html in self.pages.items()
        }
        self.raw: dict[tuple[bool, bool, bool], tuple[dict[str, str], float]] = {}
        self.results: dict[str, dict[str, float]] = {}

    def scores(self, preds: dict[str, str]) -> dict[str, float]:
        out = {}
        for name, ids in self.halves.items():
            _, p, r, f1, _ = score_extraction.score(
                {i: self.truth[i] for i in ids}, {i: preds[i] for i in ids}
            )
            out[name], out[name + "_p"], out[name + "_r"] = f1, p, r
        return out

    def extracted(self, options: ExtractOptions) -> tuple[dict[str, str], float]:
        """The stage's text without cleanup for these trafilatura switches (cached), ms/page."""
        key = (options.fast, options.favor_recall, options.favor_precision)
        if key not in self.raw:
            bare = replace(
                NONE, fast=key[0], favor_recall=key[1], favor_precision=key[2]
            )
            self.raw[key] = self.timed(
                lambda pid, html: getattr(
                    extract_article(html, self.truth[pid]["url"], options=bare),
                    "text",
                    "",
                )
            )
        return self.raw[key]

    def timed(
        self, extract: Callable[[str, str], str | None]
    ) -> tuple[dict[str, str], float]:
        start = time.perf_counter()
        preds = {pid: extract(pid, html) or "" for pid, html in self.pages.items()}
        return preds, (time.perf_counter() - start) / len(self.pages) * 1000

    def run(self, options: ExtractOptions) -> dict[str, float]:
        texts, ms = self.extracted(options)
        preds = {
            pid: clean_text(
                text, self.meta[pid].title, self.meta[pid].description, options
            )
            for pid, text in texts.items()
        }
        return {**self.scores(preds), "ms": ms}

    def report(self, name: str, s: dict[str, float]) -> dict[str, float]:
        self.results[name] = s
        print(
            f"| {name} | {s['tune']:.4f} | {s['test']:.4f} | {s['all']:.4f} | {s['all_p']:.3f} | "
            f"{s['all_r']:.3f} | {s['ms']:.1f} |",
            flush=True,
        )
        return s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument(
        "--save", type=Path, help="write every configuration's figures as JSON"
    )
    args = parser.parse_args()
    bench = Bench(args.seed)
    print(
        f"seed {args.seed}: {len(bench.halves['tune'])} tuning pages, {len(bench.halves['test'])} test pages"
    )
    print("| configuration | F1 tune | F1 test | F1 all | P all | R all | ms/page |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    plain_preds, plain_ms = bench.timed(lambda _pid, html: trafilatura.extract(html))
    plain = bench.report(
        "plain `trafilatura.extract(html)`",
        {**bench.scores(plain_preds), "ms": plain_ms},
    )
    no_comments, ms = bench.timed(
        lambda _pid, html: trafilatura.extract(html, include_comments=False)
    )
    bench.report(
        "`trafilatura.extract(html, include_comments=False)` (score_extraction.py)",
        {**bench.scores(no_comments), "ms": ms},
    )
    bare, ms = bench.timed(
        lambda _pid, html: getattr(trafilatura.bare_extraction(html), "text", "")
    )
    bench.report(
        "`trafilatura.bare_extraction(html)` defaults", {**bench.scores(bare), "ms": ms}
    )
    bench.report(
        "main's options (fast + favor_recall, no cleanup)",
        bench.run(replace(NONE, fast=True, favor_recall=True)),
    )

    # Greedy forward selection on the tuning half only: add the switch that helps most there; keep it
    # only if it also wins on the test half; stop when no switch helps on the tuning half.
    chosen = NONE
    best = bench.report("ours: trafilatura defaults, no cleanup", bench.run(chosen))
    remaining = [*EXTRACTION_SWITCHES, *CLEANUP_SWITCHES]
    verdicts = []
    while remaining:
        trials = []
        for switch in remaining:
            candidate = replace(chosen, **switched(switch))
            trials.append(
                (
                    bench.report(
                        f"  {'+'.join(on(chosen)) or '-'} + {switch}",
                        bench.run(candidate),
                    ),
                    switch,
                    candidate,
                )
            )
        trials.sort(key=lambda t: -t[0]["tune"])
        s, switch, candidate = trials[0]
        remaining.remove(switch)
        if s["tune"] <= best["tune"]:
            break
        kept = s["test"] > best["test"]
        verdicts.append(
            {
                "switch": switch,
                "tune": s["tune"] - best["tune"],
                "test": s["test"] - best["test"],
                "kept": kept,
            }
        )
        print(
            f"-- {switch}: tune {s['tune'] - best['tune']:+.4f}, test {s['test'] - best['test']:+.4f} -> "
            f"{'kept' if kept else 'rejected (no gain on the test half)'}",
            flush=True,
        )
        if kept:
            chosen, best = candidate, s
    final = bench.report(
        "**chosen by hold-out**: " + " + ".join(on(chosen)), bench.run(chosen)
    )
    bench.report("DEFAULT_OPTIONS (what the stage runs)", bench.run(DEFAULT_OPTIONS))
    print(f"chosen: {on(chosen)}")
    print(
        f"vs plain trafilatura: tune {final['tune'] - plain['tune']:+.4f}, test {final['test'] - plain['test']:+.4f}, all {final['all'] - plain['all']:+.4f}"
    )
    if args.save:
        args.save.write_text(
            json.dumps(
                {
                    "seed": args.seed,
                    "chosen": on(chosen),
                    "verdicts": verdicts,
                    "results": bench.results,
                },
                indent=1,
            )
        )


def switched(switch: str) -> dict[str, Any]:
    return {switch: True}


def on(options: ExtractOptions) -> list[str]:
    return [s for s in [*EXTRACTION_SWITCHES, *CLEANUP_SWITCHES] if getattr(options, s)]


if __name__ == "__main__":
    main()
