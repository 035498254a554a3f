"""Server-side NetworkPolicy rules that the OpenAPI schemas (kubernetes-validate) cannot express.

Written from the Kubernetes API server's own validation, not from our chart:
- pkg/apis/networking/validation/validation.go, ValidateIPBlock: `cidr` is required and parsed with
  netutils.ParseCIDRSloppy; every `except` entry must satisfy
      cidrIPNet.Contains(exceptCIDR.IP) && cidrMaskLen < exceptMaskLen
  ("must be a strict subset of `cidr`"), where Contains is Go's net.IPNet.Contains.
- pkg/apis/core/validation/ips.go, parseCIDR with strictValidation (the StrictIPCIDRValidation gate,
  on by default in 1.36): no leading zeros, no IPv4-mapped IPv6 address (netip.Addr.Is4In6), no bits
  set beyond the prefix length.

Go's IPNet.Contains is reproduced byte for byte (net/ip.go: networkNumberAndMask, Contains) because its
IPv4-mapped handling is the trap: an IPv4-mapped IP is compared as 4 bytes, so `::/0` does not contain
`::ffff:0:0/96`, although Python's ipaddress says it does.
"""

from __future__ import annotations

import ipaddress
from typing import Any

V4_IN_V6_PREFIX = bytes(10) + b"\xff\xff"


def _to4(ip: bytes) -> bytes | None:
    """Go's IP.To4: the 4-byte form of an IPv4 or IPv4-mapped IPv6 address, else None."""
    if len(ip) == 4:
        return ip
    if len(ip) == 16 and ip[:12] == V4_IN_V6_PREFIX:
        return ip[12:]
    return None


class GoIPNet:
    """net.ParseCIDR's result: IPv4 text gives a 4-byte IP and mask, IPv6 text (IPv4-mapped too) 16 bytes."""

    def __init__(self, text: str) -> None:
        address, _, prefix = text.partition("/")
        if not prefix.isdigit():
            raise ValueError(f"{text!r}: not a CIDR")
        ip = ipaddress.ip_address(
            address
        )  # rejects leading zeros, as netip.ParseAddr does
        bits = 32 if ip.version == 4 else 128
        length = int(prefix)
        if length > bits:
            raise ValueError(f"{text!r}: prefix longer than the address")
        self.text = text
        self.addr = ip
        self.prefix_len = length
        mask = ((1 << bits) - 1) ^ ((1 << (bits - length)) - 1)
        self.mask = mask.to_bytes(bits // 8, "big")
        self.ip = bytes(a & m for a, m in zip(ip.packed, self.mask, strict=True))

    def _network_and_mask(self) -> tuple[bytes, bytes] | None:
        ip = _to4(self.ip)
        if ip is None:
            ip = self.ip
            if len(ip) != 16:
                return None
        mask = self.mask
        if len(mask) == 4:
            if len(ip) != 4:
                return None
        elif len(ip) == 4:
            mask = mask[12:]
        return ip, mask

    def contains(self, other: bytes) -> bool:
        found = self._network_and_mask()
        if found is None:
            return False
        network, mask = found
        ip = _to4(other) or other
        if len(ip) != len(network):
            return False
        return all(n & m == i & m for n, m, i in zip(network, mask, ip, strict=True))


def strict_cidr_errors(text: str) -> list[str]:
    """parseCIDR(strictValidation=true): what a 1.36 API server refuses in any CIDR field."""
    try:
        net = GoIPNet(text)
    except ValueError as exc:
        return [f"{text}: not a valid CIDR ({exc})"]
    errors = []
    if text.partition("/")[2] != str(net.prefix_len):
        errors.append(f"{text}: must not have leading 0s in IP or prefix length")
    if isinstance(net.addr, ipaddress.IPv6Address) and net.addr.ipv4_mapped is not None:
        errors.append(f"{text}: must not have an IPv4-mapped IPv6 address")
    if net.addr.packed != net.ip:
        errors.append(f"{text}: must not have bits set beyond the prefix length")
    return errors


def ip_block_errors(block: dict[str, Any]) -> list[str]:
    """ValidateIPBlock plus the strict CIDR parsing, for one ipBlock. As in the Go code, an entry that
    parses gets the subset check even when strict parsing refused it (1.29-1.35 servers parse sloppily)."""
    cidr = block.get("cidr", "")
    if not cidr:
        return ["cidr: Required value"]
    errors = strict_cidr_errors(cidr)
    try:
        outer = GoIPNet(cidr)
    except ValueError:
        return errors
    for entry in block.get("except") or []:
        errors += strict_cidr_errors(entry)
        try:
            inner = GoIPNet(entry)
        except ValueError:
            continue
        if inner.addr.version != outer.addr.version:
            errors.append(f"except {entry}: not the family of cidr {cidr}")
        if not outer.contains(inner.ip) or outer.prefix_len >= inner.prefix_len:
            errors.append(f"except {entry}: must be a strict subset of `cidr` {cidr}")
    return errors


def network_policy_errors(policy: dict[str, Any]) -> list[str]:
    """Every ipBlock of a NetworkPolicy's ingress `from` and egress `to` peers."""
    name = policy["metadata"]["name"]
    spec = policy.get("spec", {})
    peers = [
        (f"ingress[{i}].from[{j}]", peer)
        for i, rule in enumerate(spec.get("ingress") or [])
        for j, peer in enumerate(rule.get("from") or [])
    ] + [
        (f"egress[{i}].to[{j}]", peer)
        for i, rule in enumerate(spec.get("egress") or [])
        for j, peer in enumerate(rule.get("to") or [])
    ]
    return [
        f"NetworkPolicy/{name} {where}.ipBlock: {error}"
        for where, peer in peers
        if "ipBlock" in peer
        for error in ip_block_errors(peer["ipBlock"])
    ]


# --- Pod templates: rules of ValidatePodSpec (pkg/apis/core/validation/validation.go) the schemas miss ---

LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"


def pod_spec_errors(
    where: str, pod: dict[str, Any], labels: dict[str, str]
) -> list[str]:
    """Container names unique across init and app containers, volume names unique, every volumeMount
    naming a volume of the pod, label values of at most 63 valid characters."""
    import re

    errors = []
    containers = (pod.get("initContainers") or []) + (pod.get("containers") or [])
    names = [c["name"] for c in containers]
    errors += [
        f"{where}: container name {n} is duplicated"
        for n in set(names)
        if names.count(n) > 1
    ]
    volumes = [v["name"] for v in pod.get("volumes") or []]
    errors += [
        f"{where}: volume {v} is duplicated"
        for v in set(volumes)
        if volumes.count(v) > 1
    ]
    errors += [
        f"{where}: container {c['name']} mounts {m['name']}, which is not a volume of the pod"
        for c in containers
        for m in c.get("volumeMounts") or []
        if m["name"] not in volumes
    ]
    errors += [
        f"{where}: label {k}={v!r} is not a valid label value"
        for k, v in labels.items()
        if len(str(v)) > 63 or not re.fullmatch(LABEL_VALUE, str(v))
    ]
    return errors
