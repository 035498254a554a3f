import ipaddress

import pytest

from gleaner.addresses import (
    AddressPolicy,
    AllowEntry,
    BlockedAddress,
    is_public,
    parse_ip_literal,
)

BLOCKED = [
    "127.0.0.1", "::1", "0.0.0.0", "::", "10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1",
    "198.18.0.1", "192.0.0.8", "240.0.0.1", "255.255.255.255", "169.254.169.254", "fd00:ec2::254",
    "224.0.0.1", "ff02::1", "fe80::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.0.0.1",
    "::7f00:1", "64:ff9b::7f00:1", "64:ff9b:1::a00:1", "2002:7f00:1::", "2002:a00:1::",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo whose client is 127.0.0.1
    "2001:db8::1", "fc00::1",
]  # fmt: skip
PUBLIC = [
    "93.184.216.34",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
]


class TestIsPublic:
    @pytest.mark.parametrize("address", BLOCKED)
    def test_blocked(self, address: str) -> None:
        assert not is_public(ipaddress.ip_address(address))

    @pytest.mark.parametrize("address", PUBLIC)
    def test_public(self, address: str) -> None:
        assert is_public(ipaddress.ip_address(address))

    def test_scoped_ipv6_is_blocked(self) -> None:
        assert not is_public(ipaddress.ip_address("2606:4700:4700::1111%eth0"))


class TestParseIpLiteral:
    @pytest.mark.parametrize(
        ("spelling", "address"),
        [
            ("2130706433", "127.0.0.1"),
            ("0x7f000001", "127.0.0.1"),
            ("0177.0.0.1", "127.0.0.1"),
            ("127.1", "127.0.0.1"),
            ("0", "0.0.0.0"),
            ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
            ("[::1]", "::1"),
            ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ],
    )
    def test_odd_spellings_are_normalized(self, spelling: str, address: str) -> None:
        assert parse_ip_literal(spelling) == ipaddress.ip_address(address)

    @pytest.mark.parametrize(
        "name", ["example.com", "news.test", "deadbeef", "localhost"]
    )
    def test_names_are_not_literals(self, name: str) -> None:
        assert parse_ip_literal(name) is None


class TestPolicy:
    def test_exact_port_entry_opens_only_that_port(self) -> None:
        policy = AddressPolicy.build([80, 443], ["127.0.0.1:8123"])
        policy.check(ipaddress.ip_address("127.0.0.1"), 8123)
        for port in (80, 443, 22, 6379, 8124):
            with pytest.raises(BlockedAddress):
                policy.check(ipaddress.ip_address("127.0.0.1"), port)
        with pytest.raises(BlockedAddress):
            policy.check(ipaddress.ip_address("127.0.0.2"), 8123)

    def test_network_entry_opens_allowed_ports_only(self) -> None:
        policy = AddressPolicy.build([80, 443], ["10.1.0.0/16"])
        policy.check(ipaddress.ip_address("10.1.2.3"), 443)
        with pytest.raises(BlockedAddress):
            policy.check(ipaddress.ip_address("10.1.2.3"), 22)
        with pytest.raises(BlockedAddress):
            policy.check(ipaddress.ip_address("10.2.0.1"), 443)

    def test_default_policy(self) -> None:
        policy = AddressPolicy.build([80, 443], [])
        policy.check(ipaddress.ip_address("93.184.216.34"), 443)
        with pytest.raises(BlockedAddress) as caught:
            policy.check(ipaddress.ip_address("93.184.216.34"), 22)
        assert caught.value.port_rule

    @pytest.mark.parametrize(
        ("text", "entry"),
        [
            ("10.0.0.0/8", AllowEntry(ipaddress.ip_network("10.0.0.0/8"))),
            ("127.0.0.1:9000", AllowEntry(ipaddress.ip_network("127.0.0.1/32"), 9000)),
            ("[::1]:9000", AllowEntry(ipaddress.ip_network("::1/128"), 9000)),
            ("fd00::/8", AllowEntry(ipaddress.ip_network("fd00::/8"))),
        ],
    )
    def test_allow_entries_parse(self, text: str, entry: AllowEntry) -> None:
        assert AllowEntry.parse(text) == entry

    @pytest.mark.parametrize(
        "text", ["nonsense", "10.0.0.0/8:99999", "[::1", "example.com:80"]
    )
    def test_bad_allow_entries_are_refused(self, text: str) -> None:
        with pytest.raises(ValueError):  # noqa: PT011 - ipaddress and int() give no more specific type
            AllowEntry.parse(text)
