"""The normaliser's fast path: a URL it keeps as it is must be one url_normalize keeps as it is."""

from __future__ import annotations

import random
import string

import pytest
from url_normalize import url_normalize

from gleaner.errors import InvalidRequest
from gleaner.links import is_canonical, normalize_url

LABEL = string.ascii_lowercase + string.digits + "-"
SEGMENT = string.ascii_letters + string.digits + "._~-"


def _random_canonical(rng: random.Random) -> str:
    """A URL drawn from the fast path's grammar, edge characters (-, ., ~, _) favoured."""
    labels = []
    for _ in range(rng.randint(1, 3)):
        inner = "".join(rng.choice(LABEL) for _ in range(rng.randint(0, 6)))
        labels.append(
            rng.choice("ab0") + inner + rng.choice("z9") if inner else rng.choice("a1")
        )
    host = (
        ".".join(labels)
        + "."
        + "".join(rng.choice("abcxyz") for _ in range(rng.randint(2, 4)))
    )
    if rng.random() < 0.25:  # an IPv4 address, edge octets favoured
        host = ".".join(
            str(rng.choice([0, 1, 9, 10, 99, 100, 199, 200, 249, 250, 255]))
            for _ in range(4)
        )
    if rng.random() < 0.25:  # a port that is not the scheme's default
        host += f":{rng.choice([1, 8, 81, 442, 444, 8080, 65535])}"
    path = "".join(
        "/"
        + rng.choice("Aa0_~-")
        + "".join(rng.choice(SEGMENT) for _ in range(rng.randint(0, 8)))
        for _ in range(rng.randint(1, 3))
    ) + rng.choice(["", "/"])
    query = ""
    if rng.random() < 0.5:
        pairs = [
            "".join(rng.choice(SEGMENT) for _ in range(rng.randint(1, 4)))
            + rng.choice(["", "=", "=" + rng.choice(SEGMENT) * rng.randint(1, 3)])
            for _ in range(rng.randint(1, 3))
        ]
        query = "?" + "&".join(pairs)
    return f"{rng.choice(['http', 'https'])}://{host}{path}{query}"


def test_fast_path_agrees_with_url_normalize() -> None:
    rng = random.Random(14)
    for _ in range(3000):
        url = _random_canonical(rng)
        assert is_canonical(url), url
        assert url_normalize(url) == url, url
        assert normalize_url(url, 2048) == url, url


def test_fast_path_leaves_the_rest_to_url_normalize() -> None:
    for url, canonical in [
        ("https://Example.org/a", "https://example.org/a"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org/a/../b", "https://example.org/b"),
        ("http://example.org:80/a#part", "http://example.org/a"),
        ("https://example.org/a?&", "https://example.org/a"),
        ("http://127.0.0.1:80/a", "http://127.0.0.1/a"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("http://127.0.0.1:09/a", "http://127.0.0.1:9/a"),
        ("http://127.000.0.1/a", "http://127.000.0.1/a"),
        ("http://256.0.0.1/a", "http://256.0.0.1/a"),
    ]:
        assert not is_canonical(url)
        assert normalize_url(url, 2048) == canonical


def test_fast_path_refuses_what_the_slow_path_refuses() -> None:
    for url in ["http://127.0.0.1:65536/a", "http://127.0.0.1:0/a"]:
        assert not is_canonical(url)
        with pytest.raises(InvalidRequest):
            normalize_url(url, 2048)
