"""Parsing fixtures: the page server, a resolver with fixed answers, and a backend that only reaches loopback.

Nothing here may send a packet off this machine: names resolve from a table (unknown names fail like
NXDOMAIN), and the inner network backend refuses any connect to a non-loopback address, so a guard bug
fails the test instead of reaching a private or metadata address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpcore
import pytest

from gleaner.addresses import AddressPolicy, GuardedBackend
from gleaner_parsing.fetcher import Fetcher, FetchLimits
from tests.parsing.server import PageServer


class TableResolver:
    """Names to fixed answers; records every lookup."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    def __call__(self, host: str, _port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} not in the test table")
        return list(self.table[host])


class LoopbackOnlyBackend(httpcore.NetworkBackend):
    """The real socket backend, refusing (and recording) anything but a loopback literal."""

    def __init__(self) -> None:
        self.inner = httpcore.SyncBackend()
        self.connects: list[tuple[str, int]] = []

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self.connects.append((host, port))
        if not ipaddress.ip_address(host).is_loopback:
            raise AssertionError(f"the guard let a connect to {host}:{port} through")
        return self.inner.connect_tcp(
            host, port, timeout, local_address, socket_options
        )

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


# Every name the tests use; public-looking answers are documentation/real public addresses that the
# loopback-only backend would refuse to reach anyway.
DNS_TABLE = {
    "news.test": ["127.0.0.1"],
    "localhost": ["127.0.0.1", "::1"],
    "metadata.test": ["169.254.169.254"],
    "mixed.test": ["93.184.216.34", "10.0.0.1"],
    "public.test": ["93.184.216.34"],
    "internal.test": ["10.1.2.3"],
}


@pytest.fixture(scope="module")
def page_server() -> Iterator[PageServer]:
    server = PageServer().start()
    yield server
    server.stop()


@pytest.fixture
def resolver() -> TableResolver:
    return TableResolver(dict(DNS_TABLE))


@pytest.fixture
def inner_backend() -> LoopbackOnlyBackend:
    return LoopbackOnlyBackend()


@pytest.fixture
def make_fetcher(
    page_server: PageServer, resolver: TableResolver, inner_backend: LoopbackOnlyBackend
) -> Iterator[Callable[..., Fetcher]]:
    """A fetcher whose only opening is the page server's exact address:port (plus `allow`)."""
    made: list[Fetcher] = []

    def make(
        allow: tuple[str, ...] = (),
        max_bytes: int = 5 * 1024 * 1024,
        timeout: float = 5.0,
        max_redirects: int = 5,
    ) -> Fetcher:
        policy = AddressPolicy.build(
            [80, 443], [f"127.0.0.1:{page_server.port}", *allow]
        )
        backend = GuardedBackend(policy, resolver=resolver, inner=inner_backend)
        fetcher = Fetcher(
            policy,
            FetchLimits(max_bytes, timeout, max_redirects, "GleanerTest/1.0"),
            backend,
        )
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()
