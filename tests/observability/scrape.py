"""Read a real process's /metrics endpoint."""

from __future__ import annotations

import time

import httpx


def scrape(port: int, timeout: float = 60.0) -> str:
    """GET http://127.0.0.1:PORT/metrics, waiting for the endpoint to come up (a starting process: its
    imports alone take 20 s on a loaded 2-core machine)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
            response.raise_for_status()
            return response.text
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
