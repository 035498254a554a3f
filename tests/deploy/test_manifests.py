"""k8s/ is `make manifests` output: it must equal a fresh render of the chart."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.deploy.chart import ROOT, require_helm


def test_k8s_matches_a_fresh_render(tmp_path: Path) -> None:
    require_helm()
    fresh = tmp_path / "gleaner.yaml"
    result = subprocess.run(
        ["make", "-s", "-f", "mk/deploy.mk", "manifests", f"MANIFESTS_OUT={fresh}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    checked_in = (ROOT / "k8s" / "gleaner.yaml").read_text()
    assert checked_in == fresh.read_text(), (
        "k8s/ differs from the chart: run `make manifests` and commit"
    )
