"""The address guard under the OpenAI SDK's HTTP client, for endpoints a tenant chose.

The SDK runs on httpx2/httpcore2 (its own fork of httpx), so the core's httpcore backend cannot be put
under it as is: this backend asks the core's guard for the checked addresses (one lookup, every answer
checked against the fetcher's policy) and connects httpcore2's way to the checked literal.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2

from gleaner.addresses import AddressPolicy, GuardedBackend


class GuardedBackend2(httpcore2.NetworkBackend):
    def __init__(self, policy: AddressPolicy) -> None:
        self.guard = GuardedBackend(policy)
        self.inner = httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        return self.guard.checked_connect(
            host,
            port,
            lambda address: self.inner.connect_tcp(
                address, port, timeout, local_address, socket_options
            ),
            httpcore2.ConnectError,
        )

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def guarded_client(policy: AddressPolicy) -> httpx2.Client:
    """An httpx2 client for the SDK whose every connection passes the policy; no proxies, no redirects."""
    transport = httpx2.HTTPTransport(retries=0)
    pool = (
        transport._pool
    )  # no public hook: tests/ai/test_model_tenancy.py fails if it moves
    if not isinstance(pool, httpcore2.ConnectionPool):
        raise RuntimeError("httpx2 internals changed: cannot install the address guard")
    pool._network_backend = GuardedBackend2(policy)
    return httpx2.Client(transport=transport, trust_env=False, follow_redirects=False)
