"""Run code in a fresh interpreter that refuses the network and NLTK's downloaded data.

Every socket connect and DNS lookup raises, `urllib` requests raise, and opening anything under an
`nltk_data` folder raises: a library that would download a model or read one it downloaded earlier
fails the test instead of passing on a developer's machine. HOME is a fresh folder, so caches in the
user's home do not count either.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GUARD = r"""
import socket, sys

def _refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "urllib.Request"):
        raise PermissionError(f"network use refused in this test: {event} {args!r}")
    if event == "open" and args and "nltk_data" in str(args[0]):
        raise PermissionError(f"NLTK data read refused in this test: {args[0]}")

sys.addaudithook(_refuse)
"""


def run_offline(
    code: str, *args: str, home: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`code` after the guard in `python -c`, with `args` as sys.argv[1:]."""
    empty = home / "nltk_data"
    empty.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "NLTK_DATA": str(empty),
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    return subprocess.run(
        [sys.executable, "-c", GUARD + code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
