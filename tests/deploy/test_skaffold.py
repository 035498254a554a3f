"""skaffold.yaml: valid against skaffold's v4beta13 schema, and bound to the chart's real values."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import yaml

from tests.deploy.chart import (
    CHART,
    ROOT,
    SHARED,
    SKAFFOLD_SCHEMA,
    by_name,
    render,
    run_helm,
)

SERVICES = ("api", "worker-parsing", "worker-ai", "worker-notion")


def load() -> Any:
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    assert isinstance(config, dict)
    return config


def test_valid_against_the_schema() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(SHARED / "tools" / "validate_skaffold.py"),
            str(SKAFFOLD_SCHEMA),
            str(ROOT / "skaffold.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_four_artifacts_built_from_the_root_with_their_dockerfile() -> None:
    artifacts = load()["build"]["artifacts"]
    assert [a["image"] for a in artifacts] == [f"gleaner-{s}" for s in SERVICES]
    for artifact, service in zip(artifacts, SERVICES, strict=True):
        assert artifact["context"] == "."
        if service == "api":
            assert artifact["docker"]["dockerfile"] == "services/api/Dockerfile"
        else:  # one Dockerfile for the three workers, one image per stage
            assert artifact["docker"]["dockerfile"] == "services/worker.Dockerfile"
            assert artifact["docker"]["buildArgs"] == {
                "STAGE": service.removeprefix("worker-")
            }
        assert (ROOT / artifact["docker"]["dockerfile"]).exists()


def test_every_image_value_is_bound_to_its_artifact() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    (release,) = load()["deploy"]["helm"]["releases"]
    templates = release["setValueTemplates"]
    for service in SERVICES:
        key = (
            "api" if service == "api" else "workers." + service.removeprefix("worker-")
        )
        node = values
        for part in key.split("."):
            node = node[part]
        assert "repository" in node["image"]
        variable = "gleaner_" + service.replace("-", "_")
        assert templates[f"{key}.image.repository"] == f"{{{{.IMAGE_REPO_{variable}}}}}"
        assert (
            templates[f"{key}.image.tag"]
            == f"{{{{.IMAGE_TAG_{variable}}}}}@{{{{.IMAGE_DIGEST_{variable}}}}}"
        )
    assert release["chartPath"] == "helm/gleaner"


def test_port_forward_reaches_the_api_service() -> None:
    (forward,) = load()["portForward"]
    service = by_name(render(), "Service", forward["resourceName"])
    assert forward["port"] in [p["port"] for p in service["spec"]["ports"]]


def test_profiles_dev_hpa_keda() -> None:
    profiles = {p["name"]: p for p in load()["profiles"]}
    assert set(profiles) == {"dev", "hpa", "keda"}
    assert profiles["dev"]["activation"] == [{"command": "dev"}]
    syncs = [p for p in profiles["dev"]["patches"] if p["path"].endswith("/sync")]
    assert len(syncs) == 4
    for profile in ("hpa", "keda"):
        assert (
            profiles[profile]["patches"][0]["value"]["workerDefaults.autoscaling.mode"]
            == profile
        )


@pytest.mark.parametrize("profile", ["hpa", "keda"])
def test_autoscaling_profiles_render_offline(profile: str) -> None:
    """What `skaffold render -p <profile>` runs: helm template with the profile's values and template flags."""
    patches = {
        p["path"]: p["value"]
        for p in {p["name"]: p for p in load()["profiles"]}[profile]["patches"]
    }
    values = patches["/deploy/helm/releases/0/setValues"]
    flags = patches.get("/deploy/helm/flags", {}).get("template", [])
    sets = [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]
    result = run_helm("template", "gleaner", str(CHART), *flags, *sets, check=False)
    assert result.returncode == 0, result.stderr
    kind = {"hpa": "HorizontalPodAutoscaler", "keda": "ScaledObject"}[profile]
    assert result.stdout.count(f"kind: {kind}\n") == 3


def commands(values: dict[str, str]) -> dict[str, list[str]]:
    """Each Deployment's main container command, rendered with `values`."""
    return {
        m["metadata"]["name"]: m["spec"]["template"]["spec"]["containers"][0]["command"]
        for m in render(values)
        if m["kind"] == "Deployment"
    }


def test_the_dev_profile_reloads_and_the_default_does_not() -> None:
    """`skaffold dev` renders the chart with the dev profile's setValues: there the API and each worker run
    under gleaner.devreload (tests/core/test_devreload.py runs it); by default nothing does."""
    dev = {p["name"]: p for p in load()["profiles"]}["dev"]
    values = {k: str(v).lower() if isinstance(v, bool) else str(v)
              for k, v in dev["deploy"]["helm"]["releases"][0]["setValues"].items()}  # fmt: skip
    assert values["dev.reload"] == "true"
    reloading = commands(values)
    for stage in ("parsing", "ai", "notion"):
        command = reloading[f"gleaner-worker-{stage}"]
        assert command[:3] == ["python3", "-m", "gleaner.devreload"]
        assert ["--package", f"gleaner_{stage}"] in [
            command[i : i + 2] for i in range(len(command))
        ]
        assert command[command.index("--") + 1 :] == [
            "python3",
            "-m",
            f"gleaner_{stage}",
        ]
    reconciler = reloading["gleaner-reconciler"]
    assert reconciler[reconciler.index("--") + 1 :] == [
        "python3",
        "-m",
        "gleaner_api",
        "reconcile",
    ]
    # Jobs must end: the migration Job and the retention CronJob never run the watcher.
    jobs = [m for m in render(values) if m["kind"] in ("Job", "CronJob")]
    assert jobs
    assert "gleaner.devreload" not in str(jobs)
    api = reloading["gleaner-api"]
    assert api[:3] == ["python3", "-m", "gleaner.devreload"]
    assert api[api.index("--") + 1 :][:4] == ["python3", "-m", "gleaner_api", "serve"]
    for name, command in commands({}).items():
        assert "gleaner.devreload" not in command, name
    assert "gleaner.devreload" not in (ROOT / "k8s" / "gleaner.yaml").read_text()


def test_dev_reload_is_refused_in_production() -> None:
    from tests.deploy.chart import render_error

    assert "dev.reload" in render_error({"dev.reload": "true"})
