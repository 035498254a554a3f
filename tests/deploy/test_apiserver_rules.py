"""Every NetworkPolicy the chart can render passes the API server's ipBlock rules (apiserver_rules.py),
which the offline schemas do not check: a default install was once refused by every 1.29+ server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.deploy.apiserver_rules import ip_block_errors, network_policy_errors
from tests.deploy.chart import (
    CHART,
    ROOT,
    Manifest,
    of_kind,
    render,
    render_error,
    run_helm,
)
from tests.deploy.test_chart import MODES

CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
# Value sets that add ipBlocks beyond the defaults.
EXTRA: dict[str, dict[str, str]] = {
    "api-server-cidrs": {
        "networkPolicy.kubeAPIServerCIDRs[0]": "10.0.0.5/32",
        "networkPolicy.kubeAPIServerCIDRs[1]": "fd00:10::1/128",
    },
    "external-stores": {
        "postgresql.enabled": "false",
        "database.external.existingSecret": "db",
        "redis.enabled": "false",
        "redisExternal.existingSecret": "redis",
    },
}


def policies(manifests: list[Manifest]) -> list[Manifest]:
    found = of_kind(manifests, "NetworkPolicy")
    assert found, "no NetworkPolicy rendered"
    return found


def rendered_sets() -> list[tuple[str, object]]:
    sets: list[tuple[str, object]] = [(f"mode-{name}", name) for name in sorted(MODES)]
    sets += [(f"ci-{path.name}", path) for path in CI_VALUES]
    sets += [(f"values-{name}", name) for name in sorted(EXTRA)]
    return sets


@pytest.mark.parametrize(
    ("label", "source"), rendered_sets(), ids=[s[0] for s in rendered_sets()]
)
def test_every_rendered_network_policy_passes_the_api_server(
    label: str, source: object
) -> None:
    if isinstance(source, Path):
        text = run_helm(
            "template",
            "gleaner",
            str(CHART),
            "--namespace",
            "gleaner",
            "--values",
            str(source),
        ).stdout
        manifests = [d for d in yaml.safe_load_all(text) if d]
    elif label.startswith("mode-"):
        values, apis = MODES[str(source)]
        manifests = render(values, apis)
    else:
        manifests = render(EXTRA[str(source)])
    errors = [e for p in policies(manifests) for e in network_policy_errors(p)]
    assert not errors, "\n".join(errors)


def test_checked_in_manifests_pass_the_api_server() -> None:
    manifests = [
        d for d in yaml.safe_load_all((ROOT / "k8s" / "gleaner.yaml").read_text()) if d
    ]
    errors = [e for p in policies(manifests) for e in network_policy_errors(p)]
    assert not errors, "\n".join(errors)


def test_worker_egress_still_closes_private_ranges_of_both_families() -> None:
    policy = [
        p
        for p in of_kind(render(), "NetworkPolicy")
        if p["metadata"]["name"].endswith("parsing")
    ]
    blocks = [
        peer["ipBlock"]
        for rule in policy[0]["spec"]["egress"]
        for peer in rule.get("to", [])
        if "ipBlock" in peer
    ]
    by_cidr = {b["cidr"]: b.get("except", []) for b in blocks}
    assert {"10.0.0.0/8", "169.254.0.0/16", "127.0.0.0/8"} <= set(by_cidr["0.0.0.0/0"])
    assert {"fc00::/7", "fe80::/10", "::1/128"} <= set(by_cidr["::/0"])


def test_a_mapped_range_under_the_ipv6_world_fails_both_the_old_and_the_strict_rule() -> (
    None
):
    errors = ip_block_errors({"cidr": "::/0", "except": ["::ffff:0:0/96"]})
    assert any(
        "strict subset" in e for e in errors
    )  # every 1.29+ server (Go's Contains)
    assert any("IPv4-mapped" in e for e in errors)  # 1.36's strict parsing


@pytest.mark.parametrize(
    ("block", "refused"),
    [
        # The default install's former rule: Go's Contains compares the mapped range as IPv4.
        ({"cidr": "::/0", "except": ["::ffff:0:0/96"]}, True),
        ({"cidr": "::/0", "except": ["fc00::/7", "::1/128"]}, False),
        ({"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "169.254.0.0/16"]}, False),
        ({"cidr": "0.0.0.0/0", "except": ["fc00::/7"]}, True),  # other family
        ({"cidr": "::/0", "except": ["10.0.0.0/8"]}, True),
        ({"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}, True),  # not strict
        ({"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}, True),  # outside
        ({"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}, False),
        (
            {"cidr": "::ffff:10.0.0.0/104"},
            True,
        ),  # IPv4-mapped cidr (1.36 strict parsing)
        ({"cidr": "10.0.0.1/8"}, True),  # bits beyond the prefix
        ({"cidr": "10.0.0.0/08"}, True),  # leading zero
        ({"cidr": ""}, True),
        ({"cidr": "10.0.0.5/32"}, False),
    ],
)
def test_the_rule_check_refuses_what_the_api_server_refuses(
    block: dict[str, object], refused: bool
) -> None:
    assert bool(ip_block_errors(block)) is refused, ip_block_errors(block)


def test_values_schema_keeps_each_family_in_its_own_list() -> None:
    assert "blockedCIDRsV6" in render_error(
        {"networkPolicy.blockedCIDRsV6[0]": "::ffff:0:0/96"}
    )
    assert "blockedCIDRs" in render_error({"networkPolicy.blockedCIDRs[0]": "fc00::/7"})
