"""Insights without a model: what a reader would underline, found by plain rules.

- Figures: sentences that state a number other than a bare year (amounts, percentages, counts), best
  first by how many of the article's keywords they carry.
- Quotations: sentences holding a quoted claim of three words or more.
- Names: capitalised word runs the text mentions more than once, or that span several words.

Every insight is a sentence of the text, except the last, which lists the names. Nothing is invented:
a text without figures, quotes or names gets fewer insights.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from gleaner_ai.providers.boilerplate import UI_TERMS, is_date_only, is_furniture
from gleaner_ai.providers.languages import UNSPACED, primary

DEFAULT_FIGURES = 3
"""Sentences with figures kept."""

DEFAULT_QUOTES = 2
"""Sentences with quotations kept."""

DEFAULT_NAMES = 6
"""Names listed."""

# Not after a Latin letter or digit ("B2B", "v1.2"), but after a CJK or Thai letter ("增长5%").
_NUMBER = re.compile(
    r"(?<![A-Za-z\d.])(?:[$€£¥]\s?)?\d[\d,.]*(?:\s?(?:%|percent|per cent|million|billion|bn|m|km|kg))?",
    re.I,
)
_YEAR = re.compile(r"^(?:1[5-9]|20)\d\d$")
_QUOTE = re.compile(r"[\"“”«»„「『״]([^\"“”«»„「」『』״]{3,})[\"“”«»„」』״]")
_TOKEN = re.compile(r"\S+")
_EDGE_PUNCT = "\"'“”‘’«»„()[]{}:;,.!?—–-"
# Lower-case words allowed inside a name: "Bank of England", "Leonardo da Vinci".
_CONNECTORS = frozenset(
    {"of", "de", "da", "del", "der", "van", "von", "la", "le", "du", "for"}
)
# Capitalised only because they start a sentence or a title; never a name on their own.
_COMMON = (
    frozenset(
        """a an and as at but by for from he her his how i if in into it its many more most my no not of on
    one or our she so some such that the their them then there these they this those to two we what when
    where which while who why with yet you your after before during however meanwhile also although
    because since until last next new first today yesterday monday tuesday wednesday thursday friday
    saturday sunday january february march april may june july august september october november december
    mr mrs ms dr prof i'm i've i'll i'd gmt utc hkt bst cet est edt pst ist jst kst am pm""".split()
    )
    | UI_TERMS
)

NAMED_LABEL = {
    "en": "Named in the text: ",
    "de": "Im Text genannt: ",
    "fr": "Cités dans le texte : ",
    "es": "Mencionados en el texto: ",
    "ru": "Упоминаются в тексте: ",
    "uk": "Згадуються в тексті: ",
    "el": "Αναφέρονται στο κείμενο: ",
    "tr": "Metinde adı geçenler: ",
    "vi": "Được nêu trong bài: ",
}
"""The names insight's label in the article's language (scripts without capitals find no names)."""


# Figures written in Han numerals: "三十八亿元", "百分之六十", "一千二百万円", "三割".
_HAN_FIGURE = re.compile(
    r"百分之[零一二三四五六七八九十百]+|[零〇一二三四五六七八九两]?[十百千万亿億][零〇一二三四五六七八九十百千万亿億]*"
    r"(?:元|円|人|吨|トン|公顷|ヘクタール|个|件|台|所|名|倍)|[一二三四五六七八九]割"
)


def _has_figure(sentence: str) -> bool:
    if _HAN_FIGURE.search(sentence):
        return True
    for match in _NUMBER.finditer(sentence):
        digits = match.group().strip()
        if not _YEAR.match(digits):
            return True
    return False


def _has_quote(sentence: str, unspaced: bool = False) -> bool:
    return any(
        (len(m.group(1)) >= 8 if unspaced else len(m.group(1).split()) >= 3)
        for m in _QUOTE.finditer(sentence)
    )


def _keyword_hits(sentence: str, keywords: Sequence[str]) -> int:
    lowered = sentence.lower()
    return sum(1 for keyword in keywords if keyword in lowered)


def _best(sentences: Iterable[str], keywords: Sequence[str], count: int) -> list[str]:
    ranked = sorted(
        enumerate(sentences),
        key=lambda pair: (-_keyword_hits(pair[1], keywords), pair[0]),
    )
    return [sentence for _, sentence in ranked[:count]]


def _runs(sentence: str) -> Iterable[tuple[str, bool]]:
    """Capitalised word runs as (name, whether it starts the sentence)."""
    run: list[str] = []
    start = 0

    def close() -> Iterable[tuple[str, bool]]:
        while run and run[-1] in _CONNECTORS:
            run.pop()
        if run:
            yield " ".join(run), start == 0
        run.clear()

    for index, raw in enumerate(_TOKEN.findall(sentence)):
        word = raw.strip(_EDGE_PUNCT)
        if (
            word
            and word[0].isupper()
            and word.lower() not in _COMMON
            and not word.isdigit()
        ):
            if run and raw[0] in _EDGE_PUNCT:
                yield from close()  # an opening quote or bracket starts something new
            if not run:
                start = index
            run.append(word)
            if raw[-1] in _EDGE_PUNCT:
                yield from close()  # a comma or full stop ends the name
        elif run and raw in _CONNECTORS:
            run.append(raw)
        else:
            yield from close()
    yield from close()


def names(sentences: Sequence[str], count: int = DEFAULT_NAMES) -> list[str]:
    """Names the text keeps returning to, most mentioned first."""
    mentions: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    for sentence in sentences:
        for name, at_start in _runs(sentence):
            if at_start and " " not in name:
                continue  # "Researchers found …": capitalised because it starts the sentence
            mentions[name] += 1
            first_seen.setdefault(name, len(first_seen))
    chosen = [
        name
        for name, n in mentions.items()
        if (n >= 2 or " " in name) and not is_date_only(name)
    ]
    chosen.sort(key=lambda name: (-mentions[name], first_seen[name]))
    return chosen[:count]


def extract_insights(
    sentences: Sequence[str],
    keywords: Sequence[str],
    exclude: Sequence[str] = (),
    language: str | None = None,
) -> list[str]:
    """Figures, quotations and names from the text; sentences already in the summary come last.
    Bylines, buttons, copyright lines and timestamps are never insights."""
    lang = primary(language)
    sentences = [s for s in sentences if not is_furniture(s, lang)]
    skip = set(exclude)
    fresh = [s for s in sentences if s not in skip]
    figures = _best([s for s in fresh if _has_figure(s)], keywords, DEFAULT_FIGURES)
    if not figures:
        figures = _best(
            [s for s in sentences if _has_figure(s)], keywords, DEFAULT_FIGURES
        )
    unspaced = lang in UNSPACED
    quotes = _best(
        [s for s in fresh if _has_quote(s, unspaced) and s not in figures],
        keywords,
        DEFAULT_QUOTES,
    )
    insights = figures + quotes
    named = names(sentences)
    if named:
        insights.append(NAMED_LABEL.get(lang, NAMED_LABEL["en"]) + ", ".join(named))
    return insights
