"""Bytes to text the way browsers pick a page's encoding: BOM, then HTTP header, then the document's own
`<meta charset>`, then a guess. A wrong guess costs mojibake in every stored article, so the guess
(charset-normalizer) only runs when the page says nothing and is not valid UTF-8.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# <meta charset="x"> and <meta http-equiv="Content-Type" content="text/html; charset=x">, in the prescan window.
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE
)
PRESCAN_BYTES = 4096
"""How far into the document to look for a meta charset (browsers use 1024; real pages put it later)."""


def known_codec(name: str | None) -> str | None:
    """The Python codec for a declared charset, or None if it is not one. Latin-1 means windows-1252,
    as in every browser (WHATWG Encoding)."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None
    if codec in ("latin-1", "iso8859-1", "ascii"):
        return "cp1252"
    if codec in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        return "utf-8"  # a meta/header claim of UTF-16 without a BOM is wrong in practice (WHATWG)
    return codec


def detect_charset(body: bytes, header_charset: str | None) -> str:
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec
    declared = known_codec(header_charset)
    if declared:
        return declared
    match = _META_CHARSET.search(body[:PRESCAN_BYTES])
    declared = known_codec(match.group(1).decode("ascii")) if match else None
    if declared:
        return declared
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(body[:65536]).best()
    return known_codec(best.encoding if best else None) or "cp1252"


def decode_body(body: bytes, header_charset: str | None) -> tuple[str, str]:
    """(text, codec used); undecodable bytes become U+FFFD rather than failing the page."""
    codec = detect_charset(body, header_charset)
    text = body.decode(codec, errors="replace")
    return text.removeprefix("\ufeff"), codec
