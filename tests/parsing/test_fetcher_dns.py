"""DNS failures a resolver that is down gives stay retryable (test_fetcher: a name that does not exist fails now)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from gleaner.addresses import AddressPolicy, GuardedBackend
from gleaner.errors import RetryableError
from gleaner_parsing.fetcher import Fetcher, FetchLimits
from tests.parsing.conftest import LoopbackOnlyBackend
from tests.parsing.server import PageServer

MakeFetcher = Callable[..., Fetcher]


@pytest.mark.parametrize("errno", [socket.EAI_AGAIN, socket.EAI_FAIL])
def test_a_resolver_failure_stays_retryable(
    page_server: PageServer, inner_backend: LoopbackOnlyBackend, errno: int
) -> None:
    def resolver_down(host: str, port: int) -> list[str]:
        raise socket.gaierror(errno, "Temporary failure in name resolution")

    policy = AddressPolicy.build([80, 443], [f"127.0.0.1:{page_server.port}"])
    backend = GuardedBackend(policy, resolver=resolver_down, inner=inner_backend)
    fetcher = Fetcher(
        policy, FetchLimits(1024 * 1024, 5.0, 5, "GleanerTest/1.0"), backend
    )
    try:
        with pytest.raises(RetryableError) as caught:
            fetcher.fetch(page_server.url("/news", host="news.test"))
    finally:
        fetcher.close()
    assert caught.value.code == "dns_error"
