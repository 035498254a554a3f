"""The address rules for URLs users choose, beyond a page fetch: the one policy from settings, and the
check of a URL where it enters the API (a tenant's model endpoint). Connections themselves go through
`gleaner.addresses.GuardedBackend`.
"""

from __future__ import annotations

import httpx

from gleaner.addresses import AddressPolicy, BlockedAddress, parse_ip_literal
from gleaner.settings import Settings


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
