"""The language of a text, read from the text: CLD2 (pycld2), whose tables are compiled into its wheel.

CLD2 was chosen over py3langid, langid and lingua for cost (3 ms import, ~5 MB of memory, microseconds
per page against ~1 s and ~125 MB for py3langid's model) and because it says when it is unsure: its
`is_reliable` flag is false on short or evenly mixed texts, and then the page's declared language
(`<html lang>`) wins. Both the parsing stage (what it stores) and the ai stage (rows stored without a
language) call it.
"""

from __future__ import annotations

import re

import pycld2  # type: ignore[import-untyped]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""CLD2 refuses these ("input contains invalid UTF-8")."""

SAMPLE_CHARS = 20_000
"""Text read for a guess: a long article's opening says as much as all of it, in a fraction of the time."""

# CLD2's codes that are not ISO 639-1 today.
_RENAMED = {"iw": "he", "jw": "jv", "zh-hant": "zh", "in": "id", "tl": "fil"}


def normalize_tag(tag: str | None) -> str | None:
    """`pt_BR` → `pt-br`; None or "" → None."""
    tag = (tag or "").strip().lower().replace("_", "-")
    return tag or None


def base_language(tag: str | None) -> str | None:
    """The primary subtag: `pt-br` → `pt`, `zh-Hant` → `zh`."""
    normalized = normalize_tag(tag)
    return normalized.split("-")[0] if normalized else None


def guess(text: str) -> tuple[str | None, bool]:
    """CLD2's language for the text and whether it is sure of it; (None, False) when it has no idea."""
    sample = _CONTROL.sub(" ", text[:SAMPLE_CHARS]).encode("utf-8", "ignore").decode()
    try:
        reliable, _bytes, details = pycld2.detect(sample)
    except pycld2.error:
        return None, False
    code = str(details[0][1]).lower()
    if code in ("un", "xx", "") or code.startswith("xx-"):
        return None, False
    return _RENAMED.get(code, code.split("-")[0]), bool(reliable)


def detect_language(text: str, declared: str | None = None) -> str | None:
    """The text's language as a lower-case tag: the detector's when it is sure, else the declared one,
    else the detector's guess. A declared tag that agrees is kept whole (`pt-br`, not `pt`)."""
    declared = normalize_tag(declared)
    found, sure = guess(text)
    if found is None:
        return declared
    declared_base = base_language(declared)
    if declared and _RENAMED.get(declared_base or "", declared_base) == found:
        return declared
    if declared and not sure:
        return declared
    return found


LANGUAGE_NAMES = {
    "ar": "Arabic",
    "bg": "Bulgarian",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "fa": "Persian",
    "fi": "Finnish",
    "fr": "French",
    "he": "Hebrew",
    "hi": "Hindi",
    "hu": "Hungarian",
    "id": "Indonesian",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "nl": "Dutch",
    "no": "Norwegian",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sv": "Swedish",
    "th": "Thai",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "vi": "Vietnamese",
    "zh": "Chinese",
}


def language_name(tag: str | None) -> str | None:
    """`ja` → `Japanese`, for instructions to a model; an unlisted tag is returned as it is."""
    base = base_language(tag)
    return LANGUAGE_NAMES.get(base, tag) if base else None
