"""Sentences, words and stop words per language, for the offline digest.

- Sentences: segtok for scripts that put spaces between sentences, then a split after the full stops
  segtok does not know: CJK `。！？`, the Devanagari danda `।`/`॥`, Arabic `؟`/`۔`. Thai has no sentence
  punctuation: PyThaiNLP's CRF sentence cutter (its model ships in the wheel).
- Words: Chinese with jieba's dictionary (rjieba, compiled in), Japanese with MeCab (fugashi) and the
  IPADIC dictionary wheel, Thai with PyThaiNLP's dictionary segmenter; every other script by segtok.
- Stop words: sumy's list for the language joined with YAKE's; Korean particles are cut off words.

The segmenters are imported on first use, so a worker that never sees Thai or Japanese never pays for
them (bench/ai/RESULTS.md has their import time and memory). None reads anything but its own wheel.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from segtok.segmenter import split_multi
from segtok.tokenizer import word_tokenizer
from sumy.nlp.stemmers import Stemmer, null_stemmer
from sumy.utils import get_stop_words

UNSPACED = frozenset({"zh", "ja", "th"})
"""Languages written without spaces between words: lengths count characters, keywords join tokens bare."""

# ISO 639-1 → the names sumy's stop words and stemmers use.
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
    "ru": "russian",
    "ar": "arabic",
    "he": "hebrew",
    "zh": "chinese",
    "ja": "japanese",
    "ko": "korean",
    "th": "thai",
    "tr": "turkish",
    "nl": "dutch",
    "da": "danish",
    "fi": "finnish",
    "hu": "hungarian",
    "no": "norwegian",
    "ro": "romanian",
}

# Vietnamese function syllables: neither sumy nor YAKE ships a list.
_VIETNAMESE_STOP = frozenset(
    """và của là có được cho trong với các những một này đã sẽ đang không người khi từ về để theo
    tại như thì mà nhưng hay hoặc cũng đến ra vào lại nên rất nhiều còn bị do vì nếu sau trước trên
    dưới giữa năm ngày tháng ông bà anh chị họ chúng tôi ta đó này nào gì ai đây cùng qua hơn""".split()
)

# Hindi postpositions and auxiliaries YAKE's list lacks.
_HINDI_STOP = frozenset(
    "में की के का को से पर ने और है हैं था थे थी भी तो ही यह वह इस उस एक लिए साथ तक कि जो हो गया गई".split()
)

_FULL_STOP = re.compile(r"(?<=[。！？!?।॥؟۔])[」』”’\"')）]*\s*")
_LETTER = re.compile(r"[^\W\d_]")
_KOREAN_PARTICLE = re.compile(
    r"(?<=[가-힣])(?:에서는|에서|에게|으로|로는|로|은|는|이|가|을|를|의|에|와|과|도|만|까지|부터|이다|였다)$"
)


def primary(language: str | None) -> str:
    """`pt-br` → `pt`; nothing → `en`."""
    return (language or "en").split("-")[0].lower() or "en"


def split_sentences(text: str, language: str | None = None) -> list[str]:
    """Sentences in text order. Each line is a paragraph (as trafilatura writes them), so a heading
    without a full stop never runs into the sentence after it."""
    lang = primary(language)
    sentences: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        pieces = _thai_sentences(line) if lang == "th" else split_multi(line)
        for piece in pieces:
            sentences.extend(s.strip() for s in _split_full_stops(piece) if s.strip())
    return sentences


def _split_full_stops(sentence: str) -> list[str]:
    """Cut after full stops that need no space after them (CJK) or that segtok does not know."""
    cuts = [m.end() for m in _FULL_STOP.finditer(sentence) if m.end() < len(sentence)]
    starts = [0, *cuts]
    return [sentence[a:b] for a, b in zip(starts, [*cuts, len(sentence)], strict=True)]


def _thai_ready() -> None:
    # PyThaiNLP creates ~/pythainlp-data on use unless read-only: a worker's root filesystem is
    # read-only, and everything we use ships in its wheel.
    os.environ.setdefault("PYTHAINLP_READ_ONLY", "1")


def _thai_sentences(line: str) -> list[str]:
    _thai_ready()
    from pythainlp.tokenize import sent_tokenize

    return [str(s) for s in sent_tokenize(line, engine="crfcut")]


def words(sentence: str, language: str | None = None) -> list[str]:
    """The words of a sentence (no punctuation, no numbers), segmented for scripts without spaces."""
    return [w for w in _tokenizer(primary(language))(sentence) if is_word(w)]


def is_word(token: str) -> bool:
    """Letters, with the combining marks Thai and Devanagari vowels are (Mn/Mc), apostrophes and
    hyphens inside: sumy's test for a word, which on its own drops "รัฐบาล" and "किसान"."""
    return (
        bool(token)
        and token[0].isalpha()
        and all(
            ch.isalpha() or ch in "'’-" or unicodedata.category(ch).startswith("M")
            for ch in token
        )
    )


def _tokenizer(lang: str) -> Callable[[str], list[str]]:
    if lang == "zh":
        return _chinese_words
    if lang == "ja":
        return _japanese_words
    if lang == "th":
        return _thai_words
    if lang == "ko":
        return _korean_words
    return _spaced_words


def _spaced_words(sentence: str) -> list[str]:
    return list(word_tokenizer(sentence))


def _korean_words(sentence: str) -> list[str]:
    # Particles are glued to the noun ("정부가", "정부는"): cut them so both count as "정부".
    return [
        _KOREAN_PARTICLE.sub("", _KOREAN_PARTICLE.sub("", w))  # "창고에는" → "창고"
        for w in word_tokenizer(sentence)
    ]


def _chinese_words(sentence: str) -> list[str]:
    import rjieba

    return [str(w) for w in rjieba.cut(sentence) if w.strip()]


def _japanese_words(sentence: str) -> list[str]:
    return [str(node.surface) for node in _japanese_tagger()(sentence)]


def japanese_nouns(phrase: str) -> bool:
    """Whether MeCab reads the phrase as nouns only (what a Japanese keyword should be)."""
    nodes = list(_japanese_tagger()(phrase))
    return bool(nodes) and all(
        node.feature[0] == "名詞" and node.feature[1] not in ("非自立", "数", "接尾")
        for node in nodes
    )


@cache
def _japanese_tagger() -> Any:
    import fugashi  # type: ignore[import-untyped]
    import ipadic  # type: ignore[import-untyped]

    return fugashi.GenericTagger(ipadic.MECAB_ARGS)


def _thai_words(sentence: str) -> list[str]:
    _thai_ready()
    from pythainlp.tokenize import word_tokenize

    return [str(w) for w in word_tokenize(sentence, engine="newmm") if w.strip()]


def fold_case(text: str, language: str | None = None) -> str:
    """Lower case as the language writes it: Turkish and Azerbaijani "İ" → "i", "I" → "ı"."""
    if primary(language) in ("tr", "az"):
        text = text.replace("İ", "i").replace("I", "ı")
    return text.lower()


def text_units(text: str, language: str | None = None) -> int:
    """A sentence's length: characters with letters for unspaced scripts, words for the rest."""
    if primary(language) in UNSPACED:
        return len(_LETTER.findall(text))
    return sum(1 for token in text.split() if _LETTER.search(token))


@cache
def stop_words(language: str | None) -> frozenset[str]:
    """sumy's and YAKE's stop words for the language (lower case); empty when neither has any."""
    lang = primary(language)
    found: set[str] = set()
    if lang in SUMY_LANGUAGES:
        try:
            found |= set(get_stop_words(SUMY_LANGUAGES[lang]))
        except LookupError:
            pass
    yake_code = "cz" if lang == "cs" else lang
    try:
        listed = resources.files("yake").joinpath(
            f"core/StopwordsList/stopwords_{yake_code}.txt"
        )
        found |= set(listed.read_bytes().decode("utf-8", "ignore").split())
    except (FileNotFoundError, OSError):
        pass
    if lang == "vi":
        found |= _VIETNAMESE_STOP
    if lang == "hi":
        found |= _HINDI_STOP
    return frozenset(word.lower() for word in found)


@cache
def stemmer(language: str | None) -> Callable[[str], str]:
    """sumy's stemmer for the language (Snowball's code, no data), or plain lower case."""
    name = SUMY_LANGUAGES.get(primary(language))
    if name is None:
        return null_stemmer  # type: ignore[no-any-return]
    try:
        found = Stemmer(name)
        found("test")  # sumy's Greek stemmer needs a package it does not install
    except (LookupError, ValueError, ImportError):
        return null_stemmer  # type: ignore[no-any-return]
    return found  # type: ignore[no-any-return]
