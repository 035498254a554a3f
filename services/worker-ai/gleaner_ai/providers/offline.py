"""The default provider: an extractive digest from packages that carry all their data.

- Language: the parsing stage's, or CLD2's reading of the text for rows stored without one.
- Sentences and words per language (gleaner_ai.providers.languages): segtok plus the full stops of
  CJK, Devanagari and Arabic, Thai by PyThaiNLP's CRF cutter, Chinese and Japanese words by rjieba and
  MeCab/IPADIC; sumy's `Tokenizer` is not used (it needs NLTK's punkt download).
- Page furniture that extraction let through (buttons, bylines, copyright lines, lone timestamps) is
  dropped first (gleaner_ai.providers.boilerplate).
- Summary: sumy's LexRank over whole sentences, in reading order, with the language's stop words.
- Keywords: YAKE (statistical, no model) over the segmented text, two words at most, each written in
  the text, no UI word, none inside another.
- Insights: the sentences that carry figures and quotations, and the names the text keeps coming back
  to (gleaner_ai.providers.insights).

Nothing here touches the network or the disk beyond the installed packages; tests run it with an empty
NLTK_DATA and every socket refused (tests/offline.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import yake
from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.summarizers.lex_rank import LexRankSummarizer

from gleaner.language import detect_language
from gleaner_ai.providers import languages
from gleaner_ai.providers.base import (
    AIResult,
    Checkpoint,
    ProcessingOptions,
    no_checkpoint,
    require_text,
)
from gleaner_ai.providers.boilerplate import has_ui_term, is_furniture
from gleaner_ai.providers.insights import extract_insights
from gleaner_ai.providers.languages import (
    UNSPACED,
    primary,
    split_sentences,
    text_units,
)

DEFAULT_SUMMARY_SENTENCES = 5
"""Sentences in a summary (Settings.SUMMARY_SENTENCES overrides it)."""

DEFAULT_KEYWORDS = 10
"""Keywords kept (Settings.KEYWORDS_MAX overrides it)."""

DEFAULT_MIN_SENTENCE_WORDS = 5
"""Shorter lines (headings, captions, list stubs) are not offered as summary sentences."""

DEFAULT_MIN_SENTENCE_CHARS = 12
"""The same for scripts without spaces, in characters."""

KEYWORD_NGRAM = 2
"""Longest keyword in words (or segmented tokens): three-word YAKE phrases are mostly noise."""

KEYWORD_MAX_WORDS = 4
KEYWORD_MAX_CHARS = 20
"""A keyword longer than this (words, or characters for CJK and Thai) is a sentence, not a keyword."""

KEYWORD_DEDUP = 0.7
"""YAKE's similarity limit between kept keywords (its default, 0.9, keeps near-duplicates)."""

SENTENCE_ENDS = tuple(".!?…。！？।॥؟۔")
_CLOSERS = "\"'”’)»」』）"
_SPACE = re.compile(r"\s+")
SUMY_LANGUAGES = languages.SUMY_LANGUAGES
__all__ = ["OfflineProvider", "normalize_space", "split_sentences", "is_full_sentence"]
_CHINESE_NUMBER = re.compile(
    r"^[零〇一二三四五六七八九十百千万亿两几多]+[个位名家项次年月日天元岁]?$"
)
_KOREAN_VERB_ENDINGS = (
    "하고",
    "히고",
    "이고",
    "했고",
    "하며",
    "으며",
    "하게",
    "롭게",
    "하여",
    "해야",
    "지만",
)


def _korean_predicate(word: str) -> bool:
    """A verb or adjective form: "-ㄴ다"/"-ㅆ다" ("바꾼다", "했다"), a connective ("넓히고"), or a stem
    the particle cut left bare ("운영하" of "운영하는"). "캐나다", "창고" and "바다" stay nouns."""
    if word.endswith(_KOREAN_VERB_ENDINGS) or (len(word) >= 3 and word.endswith("하")):
        return True
    if len(word) >= 2 and word.endswith("다") and "가" <= word[-2] <= "힣":
        return (ord(word[-2]) - 0xAC00) % 28 in (4, 20)  # final ㄴ or ㅆ before 다
    return False


class SegmentingTokenizer:
    """sumy's tokenizer interface on our per-language segmenters: no data files, no download."""

    def __init__(self, language: str = "en") -> None:
        self.language = language

    def to_sentences(self, text: str) -> tuple[str, ...]:
        return tuple(split_sentences(text, self.language))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(languages.words(sentence, self.language))


def is_full_sentence(sentence: str, language: str | None = None) -> bool:
    """Long enough and ended like a sentence: not a heading, caption, list stub or button. Thai has
    no full stop, so there length alone decides."""
    lang = primary(language)
    units = text_units(sentence, lang)
    if lang in UNSPACED:
        long_enough = units >= DEFAULT_MIN_SENTENCE_CHARS * (2 if lang == "th" else 1)
    else:
        long_enough = units >= DEFAULT_MIN_SENTENCE_WORDS
    if not long_enough or is_furniture(sentence, lang):
        return False
    return lang == "th" or sentence.rstrip(_CLOSERS).endswith(SENTENCE_ENDS)


def _overlaps(a: str, b: str, unspaced: bool = False) -> bool:
    """Whether one phrase holds the other as whole words ("model" and "language model")."""
    if unspaced:
        return a in b or b in a
    return f" {a} " in f" {b} " or f" {b} " in f" {a} "


def normalize_space(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def content_text(text: str, language: str | None) -> str:
    """The text without lines that are page furniture (buttons, bylines, copyright, timestamps)."""
    return "\n".join(
        line for line in text.splitlines() if not is_furniture(line, language)
    )


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
        # Rows parsed before the parsing stage read the language from the text may carry none.
        language = primary(options.language or detect_language(text))
        body = content_text(text, language)
        heading = normalize_space(title or "")
        # The title line trafilatura may keep at the top is no summary sentence (Thai has no full
        # stop to tell it from one).
        sentences = [
            s for s in split_sentences(body, language) if normalize_space(s) != heading
        ]
        summary_sentences = (
            self.summarize(sentences, language) if options.generate_summary else []
        )
        checkpoint()
        # The title names the subject: YAKE weighs early words more, so it goes first.
        headed = f"{title.strip()}\n{body}" if title and title.strip() else body
        keywords = self.keywords(headed, language) if options.generate_keywords else []
        insights: list[str] = []
        if options.generate_insights:
            # Insights rank sentences by keywords even when the keywords are not wanted.
            insights = extract_insights(
                [s for s in sentences if is_full_sentence(s, language)],
                keywords or self.keywords(headed, language),
                exclude=summary_sentences,
                language=language,
            )
        joiner = "" if language in ("zh", "ja") else " "
        return AIResult(
            summary=joiner.join(summary_sentences) or None,
            keywords=keywords,
            insights=insights,
            usage={"calls": 0, "sentences": len(sentences), "language": language},
        )

    def summarize(self, sentences: Sequence[str], language: str = "en") -> list[str]:
        """The most central whole sentences, in text order."""
        lang = primary(language)
        candidates = [s for s in sentences if is_full_sentence(s, lang)] or [
            s for s in sentences if not is_furniture(s, lang)
        ]
        if not candidates:
            return []
        # Short articles get a shorter summary: a third of the text, at least one sentence.
        count = min(self.summary_sentences, max(1, math.ceil(len(candidates) / 3)))
        tokenizer = SegmentingTokenizer(lang)
        document = ObjectDocumentModel(
            [Paragraph([Sentence(s, tokenizer) for s in candidates])]
        )
        summarizer = LexRankSummarizer(languages.stemmer(lang))
        summarizer.stop_words = languages.stop_words(lang)
        return [str(sentence) for sentence in summarizer(document, count)]

    def keywords(self, text: str, language: str = "en") -> list[str]:
        """YAKE keywords, best first: lower case, short, each found in the text, none inside another,
        none a UI word. Scripts without spaces (and Korean, whose particles hang on nouns) are
        segmented into words first, and a keyword is its tokens joined as the text writes them."""
        lang = primary(language)
        unspaced = lang in UNSPACED
        segmented = unspaced or lang == "ko"
        # One sentence a line, each closed by a full stop YAKE knows, so no phrase runs from the
        # title into the text or across a danda; segmented scripts as their words with spaces.
        source = "\n".join(
            (
                " ".join(languages.words(sentence, lang)) if segmented else sentence
            ).rstrip("。！？।॥؟۔")
            + " ."
            for sentence in split_sentences(text, lang)
        )
        tokens = f" {languages.fold_case(normalize_space(source), lang)} "
        extractor = yake.KeywordExtractor(
            lan=lang,
            n=KEYWORD_NGRAM,
            dedup_lim=KEYWORD_DEDUP,
            top=self.keywords_max * 3,
            stopwords=set(languages.stop_words(lang)) or None,
        )
        stem = languages.stemmer(lang)
        haystack = languages.fold_case(normalize_space(text), lang)
        if unspaced:
            haystack = haystack.replace(" ", "")
        kept: list[str] = []
        stems: list[str] = []
        for phrase, _score in extractor.extract_keywords(source):
            keyword = languages.fold_case(normalize_space(phrase), lang)
            if segmented and f" {keyword} " not in tokens:
                continue  # YAKE cut a word the segmenter kept whole ("ヘクタ" of "ヘクタール")
            if unspaced:
                keyword = keyword.replace(" ", "")
            if not self._acceptable(keyword, haystack, lang):
                continue
            # Compared by stems, so "change" and "changes" are one keyword; the better-ranked one stays.
            stemmed = (
                keyword if unspaced else " ".join(stem(w) for w in keyword.split())
            )
            if any(_overlaps(stemmed, other, unspaced) for other in stems):
                continue
            kept.append(keyword)
            stems.append(stemmed)
            if len(kept) == self.keywords_max:
                break
        return kept

    @staticmethod
    def _acceptable(keyword: str, haystack: str, language: str) -> bool:
        if keyword not in haystack or not any(ch.isalpha() for ch in keyword):
            return False
        if language in UNSPACED:
            if len(keyword) < 2 or len(keyword) > KEYWORD_MAX_CHARS:
                return False
        elif len(keyword) < 2 or len(keyword.split()) > KEYWORD_MAX_WORDS:
            return False
        stop = languages.stop_words(language)
        parts = keyword.split() or [keyword]
        if keyword in stop or parts[0] in stop or parts[-1] in stop:
            return False  # "में सौर": a phrase does not start or end on a stop word
        if language == "ja" and not languages.japanese_nouns(keyword):
            return False  # verbs and adjectives ("見つける", "多かっ") are not keywords
        if language == "zh" and _CHINESE_NUMBER.match(keyword):
            return False  # "一百二十个", "三十八": a number is a figure, not a keyword
        if language == "ko" and any(_korean_predicate(w) for w in parts):
            return False  # "바꾼다", "설명했다": predicates, not topics
        return not has_ui_term(keyword, language)
