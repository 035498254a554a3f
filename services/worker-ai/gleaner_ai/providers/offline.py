"""The default provider: an extractive digest from packages that carry all their data.

- Summary: sumy's LexRank over sentences split by segtok. sumy's own `Tokenizer` needs NLTK's punkt
  data, which is a download; segtok is pure Python, and sumy accepts any object with `to_sentences()` and
  `to_words()`. Stop words ship with sumy, and the Snowball stemmer is code, not data.
- Keywords: YAKE (statistical, no model), two-word phrases at most, case folded, no keyword inside another.
- Insights: the sentences that carry figures and quotations, and the names the text keeps coming back
  to (gleaner_ai.providers.insights).

Nothing here touches the network or the disk beyond the installed packages; a test runs it with an empty
NLTK_DATA and every socket refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import yake
from segtok.segmenter import split_multi
from segtok.tokenizer import word_tokenizer
from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.nlp.stemmers import Stemmer
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.utils import get_stop_words

from gleaner_ai.providers.base import (
    AIResult,
    Checkpoint,
    ProcessingOptions,
    no_checkpoint,
    require_text,
)
from gleaner_ai.providers.insights import extract_insights

DEFAULT_SUMMARY_SENTENCES = 5
"""Sentences in a summary (Settings.SUMMARY_SENTENCES overrides it)."""

DEFAULT_KEYWORDS = 10
"""Keywords kept (Settings.KEYWORDS_MAX overrides it)."""

DEFAULT_MIN_SENTENCE_WORDS = 5
"""Shorter lines (headings, captions, list stubs) are not offered as summary sentences."""

KEYWORD_NGRAM = 2
"""Longest keyword in words: three-word YAKE phrases are mostly noise."""

KEYWORD_DEDUP = 0.7
"""YAKE's similarity limit between kept keywords (its default, 0.9, keeps near-duplicates)."""

# ISO 639-1 (what the parsing stage stores) → the names sumy's stop words and stemmers use.
SUMY_LANGUAGES = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "cs": "czech",
    "sk": "slovak",
    "pl": "polish",
    "uk": "ukrainian",
    "el": "greek",
    "sv": "swedish",
}

_WORD_PATTERN = re.compile(
    r"^[^\W\d_](?:[^\W\d_]|['-])*$", re.UNICODE
)  # sumy's own test for a word
_SPACE = re.compile(r"\s+")


class SegtokTokenizer:
    """sumy's tokenizer interface on segtok: no data files, no download."""

    def __init__(self, language: str = "english") -> None:
        self.language = language

    def to_sentences(self, text: str) -> tuple[str, ...]:
        return tuple(split_sentences(text))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(
            word for word in word_tokenizer(sentence) if _WORD_PATTERN.match(word)
        )


def split_sentences(text: str) -> list[str]:
    """Sentences in text order. Each line is a paragraph (as trafilatura writes them), so a heading
    without a full stop never runs into the sentence after it."""
    sentences: list[str] = []
    for line in text.splitlines():
        if line.strip():
            sentences.extend(s.strip() for s in split_multi(line) if s.strip())
    return sentences


def _is_full_sentence(sentence: str) -> bool:
    """Long enough and ended like a sentence: not a heading, caption or list stub."""
    return len(sentence.split()) >= DEFAULT_MIN_SENTENCE_WORDS and sentence.rstrip(
        "\"'”’)»"
    ).endswith((".", "!", "?", "…"))


def _overlaps(a: str, b: str) -> bool:
    """Whether one phrase holds the other as whole words ("model" and "language model")."""
    return f" {a} " in f" {b} " or f" {b} " in f" {a} "


def normalize_space(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


class OfflineProvider:
    """Extractive summary, keywords and insights on the worker's own CPU."""

    def __init__(
        self,
        summary_sentences: int = DEFAULT_SUMMARY_SENTENCES,
        keywords_max: int = DEFAULT_KEYWORDS,
    ) -> None:
        self.summary_sentences = summary_sentences
        self.keywords_max = keywords_max

    def process(
        self,
        text: str,
        title: str | None,
        options: ProcessingOptions,
        checkpoint: Checkpoint = no_checkpoint,
    ) -> AIResult:
        text = require_text(text)
        language = SUMY_LANGUAGES.get((options.language or "en")[:2].lower(), "english")
        sentences = split_sentences(text)
        summary_sentences = (
            self.summarize(sentences, language) if options.generate_summary else []
        )
        checkpoint()
        # The title names the subject: YAKE weighs early words more, so it goes first.
        headed = f"{title.strip()}\n{text}" if title and title.strip() else text
        language_code = options.language or "en"
        keywords = (
            self.keywords(headed, language_code) if options.generate_keywords else []
        )
        insights: list[str] = []
        if options.generate_insights:
            # Insights rank sentences by keywords even when the keywords are not wanted.
            insights = extract_insights(
                sentences,
                keywords or self.keywords(headed, language_code),
                exclude=summary_sentences,
            )
        return AIResult(
            summary=" ".join(summary_sentences) or None,
            keywords=keywords,
            insights=insights,
            usage={"calls": 0, "sentences": len(sentences)},
        )

    def summarize(
        self, sentences: Sequence[str], language: str = "english"
    ) -> list[str]:
        """The most central sentences, in text order."""
        candidates = [s for s in sentences if _is_full_sentence(s)] or list(sentences)
        # Short articles get a shorter summary: a third of the text, at least one sentence.
        count = min(self.summary_sentences, max(1, math.ceil(len(candidates) / 3)))
        tokenizer = SegtokTokenizer(language)
        document = ObjectDocumentModel(
            [Paragraph([Sentence(s, tokenizer) for s in candidates])]
        )
        summarizer = LexRankSummarizer(Stemmer(language))
        summarizer.stop_words = get_stop_words(language)
        return [str(sentence) for sentence in summarizer(document, count)]

    def keywords(self, text: str, language: str = "en") -> list[str]:
        """YAKE keywords, best first: lower case, each found in the text, none inside another."""
        extractor = yake.KeywordExtractor(
            lan=language[:2].lower(),
            n=KEYWORD_NGRAM,
            dedup_lim=KEYWORD_DEDUP,
            top=self.keywords_max * 3,
        )
        stemmer = Stemmer(SUMY_LANGUAGES.get(language[:2].lower(), "english"))
        haystack = normalize_space(text).lower()
        kept: list[str] = []
        stems: list[str] = []
        for phrase, _score in extractor.extract_keywords(text):
            keyword = normalize_space(phrase).lower()
            if len(keyword) < 2 or keyword not in haystack:
                continue
            # Compared by stems, so "change" and "changes" are one keyword; the better-ranked one stays.
            stemmed = " ".join(stemmer(word) for word in keyword.split())
            if any(_overlaps(stemmed, other) for other in stems):
                continue
            kept.append(keyword)
            stems.append(stemmed)
            if len(kept) == self.keywords_max:
                break
        return kept
