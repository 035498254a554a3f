"""Outbound HTTP to addresses a user chose (a page to fetch, a tenant's model server), safely.

Addresses are checked at connect time by our own httpcore network backend: it resolves the host once,
refuses the connection if *any* answer is not allowed (gleaner.addresses), and connects to the checked
IP literal. httpcore then does TLS with the URL's host as SNI, so certificates and the Host header stay
right and there is no second lookup for DNS rebinding to slip into.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

from gleaner.addresses import AddressPolicy, BlockedAddress, IPAddress, parse_ip_literal
from gleaner.settings import Settings

Resolver = Callable[[str, int], list[str]]
"""(host, port) -> IP address strings. Replaceable so tests never ask real DNS or reach a real address."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.NetworkBackend):
    """Resolves once, checks every answer against the policy, connects to the checked literal."""

    def __init__(
        self,
        policy: AddressPolicy,
        resolver: Resolver = system_resolver,
        inner: httpcore.NetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.inner = inner or httpcore.SyncBackend()

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        literal = parse_ip_literal(host)
        if literal is not None:
            return [literal]
        answers = [parse_ip_literal(answer) for answer in self.resolver(host, port)]
        if not answers or any(answer is None for answer in answers):
            raise socket.gaierror(f"no usable address for {host}")
        return [answer for answer in answers if answer is not None]

    def checked_addresses(self, host: str, port: int) -> list[IPAddress]:
        """Every address `host` resolves to, once; BlockedAddress if any one is refused."""
        addresses = self.resolve(host, port)
        for address in addresses:
            self.policy.check(address, port)  # no "try the next one" after a refusal
        return addresses

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self.checked_addresses(host, port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def install_backend(
    transport: httpx.HTTPTransport, backend: httpcore.NetworkBackend
) -> None:
    """Put our backend under httpx's transport.

    httpx has no public hook for this: it is `transport._pool._network_backend` (httpx 0.28, httpcore 1.0,
    both pinned). tests/parsing/test_fetcher.py fails if the attribute moves, instead of the guard silently
    falling away.
    """
    pool = transport._pool
    if not isinstance(pool, httpcore.ConnectionPool) or not isinstance(
        getattr(pool, "_network_backend", None), httpcore.NetworkBackend
    ):
        raise RuntimeError(
            "httpx/httpcore internals changed: cannot install the guarded network backend"
        )
    pool._network_backend = backend


def settings_policy(settings: Settings) -> AddressPolicy:
    """The one policy for every user-chosen address: GLEANER_FETCH_ALLOWED_PORTS and _ALLOW_NETWORKS."""
    return AddressPolicy.build(
        settings.FETCH_ALLOWED_PORTS, settings.FETCH_ALLOW_NETWORKS
    )


def check_url_target(url: str, policy: AddressPolicy) -> None:
    """Refuse (BlockedAddress) a URL whose host is a literal address or port the policy forbids.

    What can be known without a DNS lookup, checked where the URL enters (the API); host names are
    resolved and checked at connect time by `GuardedBackend`. "localhost" and `*.localhost` always mean
    loopback (RFC 6761), so they are checked as 127.0.0.1.
    """
    try:
        parts = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise BlockedAddress(f"the URL cannot be read: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.host:
        raise BlockedAddress(
            f"only http(s) URLs with a host are allowed, not {url[:100]!r}"
        )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        host = "127.0.0.1"
    address = parse_ip_literal(host)
    if address is not None:
        policy.check(address, port)
    elif port not in policy.allowed_ports and not any(
        entry.port == port for entry in policy.allow
    ):
        raise BlockedAddress(f"port {port} is not allowed", port_rule=True)
