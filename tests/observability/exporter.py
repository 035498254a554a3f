"""`python -m tests.observability.exporter PORT`: serves the API's metrics registry (queue collector
included) on 127.0.0.1:PORT with prometheus-client's own HTTP server, until SIGTERM.

It stands in for an API replica's /metrics when a test wants several replicas without a web stack.
"""

from __future__ import annotations

import signal
import sys
import threading

from prometheus_client import start_http_server
from redis import Redis

from gleaner.metrics import make_registry
from gleaner.settings import load_settings


def main(port: int) -> None:
    settings = load_settings()
    redis = Redis.from_url(
        settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2
    )
    server, _ = start_http_server(
        port, addr="127.0.0.1", registry=make_registry(redis, settings)
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]))


def scrape(port: int, timeout: float = 20.0) -> str:
    """GET http://127.0.0.1:PORT/metrics, waiting for the endpoint to come up (a starting process)."""
    import time

    import httpx

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
