"""The contract test: schemathesis against a live stack, with real workers and Redis, two tenants.

Every check (no 5xx, schema conformance, undocumented statuses, content types, schema-valid requests
refused, negative data accepted, object-level authorization between the two peers, …) over every
phase (examples, coverage, fuzzing, stateful links), then every object one tenant made is read with
the other's key: each read must answer 404. The stack and the fuzzer run in a network namespace of
their own with only loopback up (tests.contract.fuzz), so the URLs the fuzzer invents never leave the
machine; the test skips where such a namespace cannot be made.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.stack import ROOT

MAX_EXAMPLES = int(os.environ.get("GLEANER_CONTRACT_EXAMPLES", "5"))
"""Test cases per operation and phase: bounded so the run stays near a minute on 2 busy cores."""

RUN_TIMEOUT_SECONDS = 600


def _namespace_error(name: str) -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    made = subprocess.run(
        ["ip", "netns", "add", name], capture_output=True, text=True, check=False
    )
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    return None


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    """A network namespace with only loopback up, deleted at the end."""
    name = f"gleaner-contract-{uuid.uuid4().hex[:8]}"
    error = _namespace_error(name)
    if error is not None:
        pytest.skip(f"the contract test runs its stack in a network namespace: {error}")
    try:
        subprocess.run(
            ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True
        )
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


@pytest.fixture(scope="module")
def fuzzed(namespace: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run tests.contract.fuzz in the namespace; its summary (schemathesis's report and the
    cross-tenant reads)."""
    workdir = tmp_path_factory.mktemp("contract")
    report = workdir / "summary.json"
    env = {**os.environ, "UV_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    command = ["ip", "netns", "exec", namespace, sys.executable, "-m"]
    command += [
        "tests.contract.fuzz",
        "--workdir",
        str(workdir),
        "--report",
        str(report),
    ]
    command += ["--max-examples", str(MAX_EXAMPLES)]
    result = subprocess.run(
        command,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    output = result.stdout[-20000:] + result.stderr[-5000:]
    assert report.exists(), f"the fuzzer wrote no report:\n{output}"
    summary: dict[str, Any] = json.loads(report.read_text())
    summary["output"] = output
    summary["exit_code"] = result.returncode
    return summary


@pytest.mark.slow
@pytest.mark.timeout(RUN_TIMEOUT_SECONDS + 120)
def test_the_server_keeps_its_contract(fuzzed: dict[str, Any]) -> None:
    schemathesis = fuzzed["schemathesis"]
    operations = schemathesis["operations"]
    cases = schemathesis["test_cases"]
    print(
        f"contract: {operations['tested']}/{operations['total']} operations, "
        f"{cases['generated']} test cases, {len(schemathesis.get('failures', []))} failures"
    )
    assert schemathesis["complete"], fuzzed["output"]
    assert operations["tested"] == operations["total"], fuzzed["output"]
    assert fuzzed["exit_code"] == 0, fuzzed["output"]


@pytest.mark.slow
@pytest.mark.timeout(RUN_TIMEOUT_SECONDS + 120)
def test_one_tenant_never_reads_anothers_objects(fuzzed: dict[str, Any]) -> None:
    reads = fuzzed["cross_tenant_reads"]
    assert reads["checked"] >= 10, reads  # the fuzzer made objects of every kind
    assert reads["leaks"] == [], reads
