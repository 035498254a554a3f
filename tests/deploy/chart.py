"""Rendering the chart with the project's own helm (.tools/bin, installed by `make tools`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jmespath
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "gleaner"
HELM = ROOT / ".tools" / "bin" / "helm"
SHARED = ROOT.parent / "shared"
CRDS = SHARED / "k8s-schemas" / "crds"
SKAFFOLD_SCHEMA = SHARED / "k8s-schemas" / "skaffold" / "v4beta13.json"
STAGES = ("parsing", "ai", "notion")
# What the cluster would advertise with prometheus-operator and KEDA installed.
CRD_APIS = ("monitoring.coreos.com/v1", "keda.sh/v1alpha1")

Manifest = dict[str, Any]


def require_helm() -> Path:
    if not HELM.exists():
        pytest.skip(f"helm is not installed at {HELM}: run `make tools`")
    return HELM


def helm_env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HELM_CACHE_HOME": str(tmp / "cache"),
        "HELM_CONFIG_HOME": str(tmp / "config"),
        "HELM_DATA_HOME": str(tmp / "data"),
    }


def run_helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    helm = require_helm()
    tmp = ROOT / ".tools" / "helm"
    result = subprocess.run(
        [str(helm), *args],
        capture_output=True,
        text=True,
        env=helm_env(tmp),
        timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
    return result


def render_args(
    values: dict[str, str] | None = None,
    api_versions: tuple[str, ...] = (),
    chart: Path = CHART,
) -> list[str]:
    args = ["template", "gleaner", str(chart), "--namespace", "gleaner"]
    for api in api_versions:
        args += ["--api-versions", api]
    for key, value in (values or {}).items():
        args += ["--set", f"{key}={value}"]
    return args


def render_text(
    values: dict[str, str] | None = None,
    api_versions: tuple[str, ...] = (),
    chart: Path = CHART,
) -> str:
    return run_helm(*render_args(values, api_versions, chart)).stdout


def render(
    values: dict[str, str] | None = None,
    api_versions: tuple[str, ...] = (),
    chart: Path = CHART,
) -> list[Manifest]:
    """`helm template` as a list of objects, as the airflow chart's render_chart does."""
    docs = yaml.safe_load_all(render_text(values, api_versions, chart))
    return [doc for doc in docs if doc]


def render_error(values: dict[str, str], api_versions: tuple[str, ...] = ()) -> str:
    """The render must fail; returns helm's message."""
    result = run_helm(*render_args(values, api_versions), check=False)
    assert result.returncode != 0, f"helm template accepted {values}"
    return result.stderr


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def by_name(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = [m for m in of_kind(manifests, kind) if m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def jp(expression: str, data: Any) -> Any:
    return jmespath.search(expression, data)


def render_notes(tmp: Path, values: dict[str, str] | None = None) -> str:
    """NOTES.txt as `helm install` would print it: `helm template` skips NOTES, so a copy of the chart
    renders it through `tpl` into a ConfigMap (the text and its context are the chart's own)."""
    copy = tmp / "gleaner"
    shutil.copytree(CHART, copy)
    (copy / "templates" / "NOTES.txt").rename(copy / "notes.src")
    (copy / "templates" / "notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n"
        'data:\n  notes: {{ tpl (.Files.Get "notes.src") . | toJson }}\n'
    )
    notes = by_name(render(values, chart=copy), "ConfigMap", "notes")
    return str(notes["data"]["notes"])
