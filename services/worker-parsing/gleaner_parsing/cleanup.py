"""Rules applied to the text trafilatura extracted: what it keeps that is not the article.

Each rule is general (no site, no page) and is switched by a flag of ExtractOptions, so the hold-out
benchmark (bench/parsing/holdout.py) can keep only the rules that win on pages they were not tuned on.

- reflow: a line that does not end a sentence, followed by one that starts in lower case, is one
  paragraph hard-wrapped by the page (`<br>` at each line end, or a `<pre>`-like block).
- heading: the page's title or description repeated as the text's first lines.
- pointers: "Read more: …", "Related: …", "You may also like", "Don't miss" lines.
- calls to action: short lines asking to follow, share, subscribe or sign up.
- timestamps: a line that is only a date or time ("Updated at 1:23 p.m.", "- Published 18 Nov 2019").
- shouting: lines in capitals (cross-promoted headlines, "CLICK HERE TO GET THE APP").
- trailing list: three or more list items closing the text (related-story lists).
"""

from __future__ import annotations

import re

_SENTENCE_END = tuple(".!?…:;。！？।؟\"'”’»)")
_LIST_ITEM = re.compile(r"^\s*[-•*·]\s+")
_POINTER = re.compile(
    r"^\s*[-•*]?\s*(?:read more|read also|also read|related|see also|also on [\w.]+|don'?t miss|"
    r"you may also like|you might also like|more from|recommended|most read|more stories|"
    r"more on this|watch|listen|trending|popular)\b\s*[:.…|-]?",
    re.I,
)
_CALL_TO_ACTION = re.compile(
    r"\b(?:follow (?:us|him|her|them|@)|follow \w+ on|share (?:this|it|on)|subscribe|sign up|"
    r"newsletter|click here|download (?:the|our) app|get the app|join our|like us on|"
    r"tell us what you think|leave a comment|comments?$)",
    re.I,
)
_CALL_TO_ACTION_MAX_WORDS = 30
_DATE_WORD = re.compile(
    r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?|"
    r"\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b|\b(?:a\.?m|p\.?m|gmt|utc|bst|est|edt|pst|ist|cet|amt)\b\.?|"
    r"\b(?:updated|published|posted|last|modified|at|on|hours?|minutes?|days?|ago)\b"
)
_LETTERS = re.compile(r"[^\W\d_]+")
_WORDS = re.compile(r"\w+")


def reflow(text: str) -> str:
    """Join hard-wrapped lines back into their paragraph."""
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        stripped = line.strip()
        if (
            out
            and stripped
            and out[-1]
            and stripped[0].islower()
            and not out[-1].endswith(_SENTENCE_END)
            and not _LIST_ITEM.match(line)
        ):
            out[-1] = f"{out[-1]} {stripped}"
        else:
            out.append(line)
    return "\n".join(out)


def _same(a: str, b: str) -> bool:
    return bool(a) and " ".join(_WORDS.findall(a.lower())) == " ".join(
        _WORDS.findall(b.lower())
    )


def drop_heading(
    lines: list[str], title: str | None, description: str | None
) -> list[str]:
    """The title or the description repeated at the top of the text (at most the first three lines)."""
    heads = [h for h in (title, description) if h]
    start = 0
    while start < min(3, len(lines)) and any(_same(lines[start], h) for h in heads):
        start += 1
    return lines[start:]


def is_pointer(line: str) -> bool:
    return bool(_POINTER.match(line)) and len(_WORDS.findall(line)) <= 25


def is_call_to_action(line: str) -> bool:
    return (
        len(_WORDS.findall(line)) <= _CALL_TO_ACTION_MAX_WORDS
        and _CALL_TO_ACTION.search(line) is not None
    )


def is_timestamp(line: str) -> bool:
    stripped = _LIST_ITEM.sub("", line).strip()
    return bool(stripped) and not _LETTERS.search(_DATE_WORD.sub(" ", stripped))


def is_shouting(line: str) -> bool:
    letters = "".join(_LETTERS.findall(line))
    cased = [c for c in letters if c.isupper() or c.islower()]
    return (
        len(_WORDS.findall(line)) >= 3
        and len(cased) >= 10
        and all(c.isupper() for c in cased)
    )


def drop_trailing_list(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and (not lines[end - 1].strip() or _LIST_ITEM.match(lines[end - 1])):
        end -= 1
    items = sum(1 for line in lines[end:] if line.strip())
    return lines[:end] if items >= 3 and end else lines
