"""Which addresses and ports Gleaner may connect to on a user's behalf, and the connection guard.

Used by the fetcher (gleaner_parsing) for pages and feeds and by webhook delivery (gleaner.webhooks):
every URL a user supplies goes through the same rule.

The rule is "public unicast only": Python's `ipaddress.is_global`, plus the ranges it still calls global
(multicast, CGNAT 100.64.0.0/10, 192.0.0.0/24, benchmarking 198.18.0.0/15, 240.0.0.0/4, the NAT64
local-use prefix) and every IPv6 form that carries an IPv4 address (mapped, compatible, 6to4, Teredo,
NAT64), which is unwrapped and checked again. An explicit allow list (GLEANER_FETCH_ALLOW_NETWORKS,
GLEANER_WEBHOOK_ALLOW_NETWORKS) can open a known internal network, or one exact `address:port` — how
tests reach their own server while every other port on the same address stays closed.

Addresses are checked at connect time by `GuardedBackend`, an httpcore network backend: it resolves the
host once, refuses the connection if *any* answer is not allowed, and connects to the checked IP literal.
httpcore then does TLS with the URL's host as SNI, so certificates and the Host header stay right and
there is no second lookup for DNS rebinding to slip into.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ranges `is_global` lets through but that are never a public web server.
_EXTRA_BLOCKED: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "100.64.0.0/10",  # CGNAT: the provider's side of the carrier NAT, often cluster-internal
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "240.0.0.0/4",  # reserved, includes the broadcast address
        "::/96",  # IPv4-compatible IPv6 (deprecated): `::7f00:1` is 127.0.0.1
        "64:ff9b:1::/48",  # NAT64 local use: the embedded IPv4 sits at a prefix-dependent offset
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64), to be checked too."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_public(address: IPAddress) -> bool:
    """True only for a globally routable unicast address, whatever IPv4 it may carry inside."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False
        if not all(is_public(inner) for inner in embedded_ipv4(address)):
            return False
    if (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    ):
        return False
    return not any(
        address in net for net in _EXTRA_BLOCKED if net.version == address.version
    )


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host names literally, normalizing the spellings resolvers accept.

    `2130706433`, `0x7f000001`, `0177.0.0.1` and `127.1` all mean 127.0.0.1 to `inet_aton`, which is what
    the system resolver would use: normalize them here so the check sees the address that would be used.
    """
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if (
        host
        and all(part for part in host.split("."))
        and host.replace(".", "").isalnum()
    ):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


@dataclass(frozen=True)
class AllowEntry:
    """A network the operator opened; with a port, only that port of it."""

    network: IPNetwork
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> AllowEntry:
        """`10.1.0.0/16`, `127.0.0.1:8080` or `[::1]:8080`; raises ValueError on anything else."""
        text = text.strip()
        port: int | None = None
        if text.startswith("["):
            net_text, sep, rest = text[1:].partition("]")
            if not sep:
                raise ValueError(f"unclosed [ in {text!r}")
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(f"expected ]:port in {text!r}")
                port = int(rest[1:])
        elif text.count(":") == 1:
            net_text, _, port_text = text.partition(":")
            port = int(port_text)
        else:
            net_text = text
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port out of range in {text!r}")
        return cls(ipaddress.ip_network(net_text, strict=False), port)

    def matches(self, address: IPAddress, port: int) -> bool:
        return address in self.network and (self.port is None or self.port == port)


class BlockedAddress(Exception):
    """The policy refused an address or port; `reason` says which rule."""

    def __init__(self, reason: str, *, port_rule: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.port_rule = port_rule


@dataclass(frozen=True)
class AddressPolicy:
    allowed_ports: frozenset[int]
    allow: tuple[AllowEntry, ...] = ()

    @classmethod
    def build(
        cls, allowed_ports: Iterable[int], allow_networks: Iterable[str]
    ) -> AddressPolicy:
        return cls(
            frozenset(allowed_ports),
            tuple(AllowEntry.parse(entry) for entry in allow_networks),
        )

    def check(self, address: IPAddress, port: int) -> None:
        """Return if (address, port) may be reached, else raise BlockedAddress."""
        for entry in self.allow:
            if entry.port is not None and entry.matches(address, port):
                return  # an exact address:port the operator opened
        opened = any(
            entry.port is None and entry.matches(address, port) for entry in self.allow
        )
        if not opened and not is_public(address):
            raise BlockedAddress(f"{address} is not a public address")
        if port not in self.allowed_ports:
            raise BlockedAddress(f"port {port} is not allowed", port_rule=True)


Resolver = Callable[[str, int], list[str]]
"""(host, port) -> IP address strings. Replaceable so tests never ask real DNS or reach a real address."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


StreamT = TypeVar("StreamT")
"""The stream a backend's connect returns (httpcore's or httpcore2's)."""


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

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return self.checked_connect(
            host,
            port,
            lambda address: self.inner.connect_tcp(
                address, port, timeout, local_address, socket_options
            ),
            httpcore.ConnectError,
        )

    def checked_connect(
        self,
        host: str,
        port: int,
        connect: Callable[[str], StreamT],
        connect_error: type[Exception],
    ) -> StreamT:
        """Resolve `host` once, check every answer, then `connect(literal)` to each in turn.

        Shared with the httpcore2 backend under the OpenAI SDK (gleaner_ai.providers.guard): only the
        connect call and its error type differ.
        """
        addresses = self.resolve(host, port)
        for address in addresses:
            # any refused answer refuses the host: no "try the next one"
            self.policy.check(address, port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return connect(str(address))
            except connect_error as exc:
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
