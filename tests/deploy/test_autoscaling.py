"""Autoscaling parts a user installs beside the chart: prometheus-adapter's values file is generated from
files/autoscaling-queries.yaml and serves exactly the query KEDA's trigger runs, for the labels the HPA
sends; the README's three-command recipes render; NOTES say which mode is on and what it needs."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.chart import (
    CHART,
    CRD_APIS,
    ROOT,
    STAGES,
    by_name,
    render,
    render_notes,
)

ADAPTER_VALUES = ROOT / "helm" / "prometheus-adapter-values.yaml"
SCRIPT = ROOT / "scripts" / "prometheus_adapter_values.py"
PROMETHEUS_HOST = "prometheus-operated.monitoring.svc"


def test_adapter_values_file_is_the_generated_one() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def matchers(query: str) -> tuple[str, frozenset[str], str]:
    """(text around the selector, its matchers as a set, the metric): order inside {} does not matter."""
    found = re.fullmatch(
        r'(.*?)([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[^}"]|"[^"]*")*)\}(.*)', query
    )
    assert found, query
    pre, metric, inside, post = found.groups()
    return pre + "{}" + post, frozenset(m.strip() for m in inside.split(",")), metric


def test_adapter_rule_answers_the_hpa_with_the_keda_query() -> None:
    (rule,) = yaml.safe_load(ADAPTER_VALUES.read_text())["rules"]["external"]
    assert rule["resources"] == {"overrides": {"namespace": {"resource": "namespace"}}}
    hpa_release = render({}, CRD_APIS)
    keda_release = render(
        {
            "workerDefaults.autoscaling.mode": "keda",
            "workerDefaults.autoscaling.minReplicas": "0",
        },
        CRD_APIS,
    )
    for stage in STAGES:
        name = f"gleaner-worker-{stage}"
        hpa = by_name(hpa_release, "HorizontalPodAutoscaler", name)
        metric = hpa["spec"]["metrics"][0]["external"]["metric"]
        assert metric["name"] == rule["name"]["as"]
        # What prometheus-adapter substitutes: the series, and the HPA's namespace + selector as matchers.
        labels = {"namespace": hpa["metadata"].get("namespace", "gleaner")}
        labels |= metric["selector"]["matchLabels"]
        served = (
            rule["metricsQuery"]
            .replace("<<.Series>>", metric["name"])
            .replace(
                "<<.LabelMatchers>>", ",".join(f'{k}="{v}"' for k, v in labels.items())
            )
        )
        keda = by_name(keda_release, "ScaledObject", name)["spec"]["triggers"][0][
            "metadata"
        ]
        assert matchers(served) == matchers(keda["query"]), stage
        # The adapter lists only series carrying every label it will match on.
        series = rule["seriesQuery"]
        assert all(f'{label}!=""' in series for label in labels), series


def readme_commands(title: str) -> list[list[str]]:
    readme = (CHART / "README.md").read_text()
    section = readme.split("### Autoscaling in three commands", 1)[1].split(
        "\n### ", 1
    )[0]
    block = section.split(title, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line) for line in block.strip().splitlines()]


@pytest.mark.parametrize(
    ("title", "mode", "autoscaler"),
    [("hpa mode", "hpa", "prometheus-adapter"), ("keda mode", "keda", "kedacore/keda")],
)
def test_readme_three_commands_install_what_the_mode_needs(
    title: str, mode: str, autoscaler: str
) -> None:
    commands = readme_commands(title)
    assert len(commands) == 3
    stack, scaler, gleaner = commands
    assert stack[:4] == [
        "helm",
        "install",
        "prometheus",
        "prometheus-community/kube-prometheus-stack",
    ]
    assert autoscaler in " ".join(scaler)
    if mode == "hpa":
        values = scaler[scaler.index("-f") + 1]
        assert (ROOT / values) == ADAPTER_VALUES
        assert (
            PROMETHEUS_HOST
            in yaml.safe_load(ADAPTER_VALUES.read_text())["prometheus"]["url"]
        )
    assert gleaner[:4] == ["helm", "install", "gleaner", "helm/gleaner"]
    sets = dict(
        gleaner[i + 1].split("=", 1) for i, arg in enumerate(gleaner) if arg == "--set"
    )
    manifests = render(sets, CRD_APIS)
    kinds = {m["kind"] for m in manifests}
    assert ("HorizontalPodAutoscaler" in kinds) == (mode == "hpa")
    assert ("ScaledObject" in kinds) == (mode == "keda")
    if mode == "keda":
        trigger = by_name(manifests, "ScaledObject", "gleaner-worker-ai")["spec"][
            "triggers"
        ][0]
        assert PROMETHEUS_HOST in trigger["metadata"]["serverAddress"]


@pytest.mark.parametrize(
    ("values", "says", "not_says"),
    [
        (
            {},
            ["autoscaling hpa", "helm/prometheus-adapter-values.yaml"],
            ["Autoscaling mode keda"],
        ),
        (
            {"workerDefaults.autoscaling.mode": "none"},
            ["autoscaling none", "until the next\n  helm upgrade", "none -> hpa drops"],
            ["Autoscaling mode hpa"],
        ),
    ],
    ids=["hpa", "none"],
)
def test_notes_say_the_mode_and_its_prerequisites(
    tmp_path: Path, values: dict[str, str], says: list[str], not_says: list[str]
) -> None:
    notes = render_notes(tmp_path, values)
    for text in says:
        assert text in notes, text
    for text in not_says:
        assert text not in notes, text
