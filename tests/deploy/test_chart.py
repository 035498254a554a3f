"""The Helm chart: lint, render on defaults and on every autoscaling mode, validate each object against
the Kubernetes schemas and the CRDs, and assert what the schemas cannot (apache/airflow helm-tests style)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate
import pytest
import yaml

from tests.deploy.chart import (
    CHART,
    CRD_APIS,
    CRDS,
    STAGES,
    Manifest,
    by_name,
    jp,
    of_kind,
    render,
    render_error,
    render_notes,
    render_text,
    run_helm,
)

# name -> (--set values, API versions the cluster advertises)
MODES: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "defaults": ({}, ()),
    "hpa": ({"workerDefaults.autoscaling.mode": "hpa"}, CRD_APIS),
    "keda": (
        {
            "workerDefaults.autoscaling.mode": "keda",
            "workerDefaults.autoscaling.minReplicas": "0",
        },
        CRD_APIS,
    ),
    "none": (
        {"workerDefaults.autoscaling.mode": "none", "workerDefaults.replicas": "2"},
        (),
    ),
    "api-processes": ({"api.processes": "4"}, ()),
    "ingress": (
        {
            "api.ingress.enabled": "true",
            "api.ingress.className": "nginx",
            "api.ingress.hosts[0].host": "gleaner.example.com",
            "api.ingress.hosts[0].paths[0].path": "/",
            "api.ingress.hosts[0].paths[0].pathType": "Prefix",
            "api.ingress.tls[0].secretName": "gleaner-tls",
            "api.ingress.tls[0].hosts[0]": "gleaner.example.com",
        },
        (),
    ),
}
CR_KINDS = {
    "ServiceMonitor",
    "PrometheusRule",
    "ScaledObject",
    "TriggerAuthentication",
    "PodMonitor",
}
GA_SINCE_1_30 = {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
WORKLOAD_PODS = {
    "Deployment": "spec.template.spec",
    "StatefulSet": "spec.template.spec",
    "Job": "spec.template.spec",
    "CronJob": "spec.jobTemplate.spec.template.spec",
}
QUERIES = yaml.safe_load((CHART / "files" / "autoscaling-queries.yaml").read_text())


@pytest.fixture(scope="module", params=sorted(MODES))
def mode(request: pytest.FixtureRequest) -> tuple[str, list[Manifest]]:
    values, apis = MODES[request.param]
    return request.param, render(values, apis)


def worker_deployment(manifests: list[Manifest], stage: str) -> Manifest:
    return by_name(manifests, "Deployment", f"gleaner-worker-{stage}")


def pod_specs(manifests: list[Manifest]) -> list[tuple[str, Manifest]]:
    return [
        (f"{m['kind']}/{m['metadata']['name']}", jp(path, m))
        for m in manifests
        for kind, path in WORKLOAD_PODS.items()
        if m["kind"] == kind
    ]


def test_lint_strict() -> None:
    result = run_helm("lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("version", ["1.29", "1.33"])
def test_objects_valid_against_kubernetes_schema(
    mode: tuple[str, list[Manifest]], version: str
) -> None:
    _, manifests = mode
    for manifest in manifests:
        name = f"{manifest['kind']}/{manifest['metadata']['name']}"
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            if manifest["kind"] in GA_SINCE_1_30 and version < "1.30":
                continue  # rendered only for 1.30+ (test_admission_policy.py)
            assert manifest["kind"] in CR_KINDS, (
                f"{name}: no schema and not a CR we validate"
            )
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name} is invalid for Kubernetes {version}: {exc.message}")


def test_custom_resources_valid_against_crds(
    mode: tuple[str, list[Manifest]], tmp_path: Path
) -> None:
    name, manifests = mode
    crs = [m for m in manifests if m["kind"] in CR_KINDS]
    if name in ("hpa", "keda"):
        assert {m["kind"] for m in crs} >= {"ServiceMonitor", "PrometheusRule"}
    rendered = tmp_path / "crs.yaml"
    rendered.write_text(yaml.safe_dump_all(crs))
    result = subprocess.run(
        [
            sys.executable,
            str(CRDS.parents[1] / "tools" / "validate_crs.py"),
            "--crds",
            str(CRDS),
            "--strict",
            str(rendered),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("OK ") == len(crs)


def test_api_and_three_workers_are_deployments(
    mode: tuple[str, list[Manifest]],
) -> None:
    _, manifests = mode
    names = {m["metadata"]["name"] for m in of_kind(manifests, "Deployment")}
    assert names == {"gleaner-api", "gleaner-reconciler"} | {
        f"gleaner-worker-{s}" for s in STAGES
    }
    for stage in STAGES:
        command = jp(
            "spec.template.spec.containers[0].command",
            worker_deployment(manifests, stage),
        )
        assert command == ["python3", "-m", f"gleaner_{stage}"]


def test_one_autoscaler_per_worker_on_its_queue(
    mode: tuple[str, list[Manifest]],
) -> None:
    name, manifests = mode
    hpas, scaled = (
        of_kind(manifests, "HorizontalPodAutoscaler"),
        of_kind(manifests, "ScaledObject"),
    )
    expected = {
        "defaults": "hpa",
        "hpa": "hpa",
        "keda": "keda",
        "none": "none",
        "ingress": "hpa",
        "api-processes": "hpa",
    }[name]
    assert len(hpas) == (3 if expected == "hpa" else 0)
    assert len(scaled) == (3 if expected == "keda" else 0)
    for stage in STAGES:
        deployment = worker_deployment(manifests, stage)
        target = f"gleaner-worker-{stage}"
        if expected == "none":
            assert deployment["spec"]["replicas"] == 2
            continue
        # An autoscaled Deployment has no replicas, so `helm upgrade` never resets the autoscaler's choice.
        assert "replicas" not in deployment["spec"]
        if expected == "hpa":
            hpa = by_name(hpas, "HorizontalPodAutoscaler", target)
            assert jp("spec.scaleTargetRef", hpa) == {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": target,
            }
            metric = jp("spec.metrics[0].external", hpa)
            # Scoped to this release (the adapter adds the HPA's namespace).
            assert metric["metric"] == {
                "name": "gleaner_queue_backlog_jobs",
                "selector": {
                    "matchLabels": {"queue": stage, "gleaner_release": "gleaner"}
                },
            }
            # kubernetes-validate accepts AverageValue without averageValue; the API server does not.
            # The target is concurrency × 1.5 (test_worker_runtime.py checks how it follows concurrency).
            assert metric["target"] == {
                "type": "AverageValue",
                "averageValue": {"parsing": "6", "ai": "3", "notion": "6"}[stage],
            }
            assert jp("spec.behavior.scaleDown.stabilizationWindowSeconds", hpa) == 300
            assert jp("spec.behavior.scaleUp.stabilizationWindowSeconds", hpa) == 0
        else:
            scaled_object = by_name(scaled, "ScaledObject", target)
            assert jp("spec.scaleTargetRef.name", scaled_object) == target
            assert jp("spec.minReplicaCount", scaled_object) == 0
            trigger = jp("spec.triggers[0]", scaled_object)
            assert trigger["type"] == "prometheus"
            assert trigger["metadata"]["query"] == QUERIES[stage].replace(
                "${namespace}", "gleaner"
            ).replace("${release}", "gleaner")
            assert all(isinstance(v, str) for v in trigger["metadata"].values())


def test_autoscaling_queries_file_is_the_agreed_promql() -> None:
    assert QUERIES == {
        stage: "max by (queue) (gleaner_queue_backlog_jobs{"
        'namespace="${namespace}", gleaner_release="${release}", '
        f'queue="{stage}"}})'
        for stage in STAGES
    }


def test_keda_without_keda_in_the_cluster_fails_with_a_fix() -> None:
    message = render_error({"workers.ai.autoscaling.mode": "keda"})
    assert "install KEDA" in message


def test_hpa_cannot_scale_to_zero() -> None:
    assert "use mode keda" in render_error(
        {"workers.notion.autoscaling.minReplicas": "0"}
    )


def test_worker_override_of_zero_wins_over_the_default() -> None:
    manifests = render(
        {
            "workers.ai.autoscaling.mode": "keda",
            "workers.ai.autoscaling.minReplicas": "0",
        },
        CRD_APIS,
    )
    assert (
        jp(
            "spec.minReplicaCount",
            by_name(manifests, "ScaledObject", "gleaner-worker-ai"),
        )
        == 0
    )
    assert (
        len(of_kind(manifests, "HorizontalPodAutoscaler")) == 2
    )  # parsing and notion keep the default


def test_ingress_reaches_the_api_service() -> None:
    values, apis = MODES["ingress"]
    manifests = render(values, apis)
    ingress = by_name(manifests, "Ingress", "gleaner-api")
    service = by_name(manifests, "Service", "gleaner-api")
    deployment = by_name(manifests, "Deployment", "gleaner-api")
    assert jp("spec.ingressClassName", ingress) == "nginx"
    assert jp("spec.tls[0].hosts", ingress) == ["gleaner.example.com"]
    backend = jp("spec.rules[0].http.paths[0].backend.service", ingress)
    assert backend["name"] == service["metadata"]["name"]
    service_port = [
        p for p in service["spec"]["ports"] if p["name"] == backend["port"]["name"]
    ]
    assert len(service_port) == 1
    container_ports = jp("spec.template.spec.containers[0].ports[].name", deployment)
    assert service_port[0]["targetPort"] in container_ports
    assert (
        jp("spec.selector", service).items()
        <= jp("spec.template.metadata.labels", deployment).items()
    )


def test_ingress_is_on_by_default_without_host_or_class(tmp_path: Path) -> None:
    manifests = render()
    ingress = by_name(manifests, "Ingress", "gleaner-api")
    assert (
        "ingressClassName" not in ingress["spec"]
    )  # the cluster's default IngressClass
    (rule,) = ingress["spec"]["rules"]
    assert "host" not in rule  # every host: works without DNS
    assert jp("http.paths[0]", rule) == {
        "path": "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": "gleaner-api", "port": {"name": "http"}}},
    }
    assert "http" in jp(
        "spec.ports[].name", by_name(manifests, "Service", "gleaner-api")
    )
    rendered = (CHART.parents[1] / "k8s" / "gleaner.yaml").read_text()
    assert (
        by_name(
            [d for d in yaml.safe_load_all(rendered) if d], "Ingress", "gleaner-api"
        )
        == ingress
    )
    notes = render_notes(tmp_path)
    assert "get ingress gleaner-api" in notes
    assert "the cluster's default IngressClass" in notes


def test_api_probes_and_key() -> None:
    api = jp(
        "spec.template.spec.containers[0]",
        by_name(render(), "Deployment", "gleaner-api"),
    )
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    key = [e for e in api["env"] if e["name"] == "GLEANER_BOOTSTRAP_API_KEY"][0]
    assert key["valueFrom"]["secretKeyRef"] == {
        "name": "gleaner-api-key",
        "key": "api-key",
    }


def test_api_processes_share_a_memory_backed_metrics_directory() -> None:
    def api(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
        deployment = by_name(render(values), "Deployment", "gleaner-api")
        pod = jp("spec.template.spec", deployment)
        return pod, pod["containers"][0]

    pod, container = api({})
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["GLEANER_API_PROCESSES"] == "1"
    assert "PROMETHEUS_MULTIPROC_DIR" not in env  # one process: its own registry
    assert "prometheus-multiproc" not in {v["name"] for v in pod["volumes"]}

    pod, container = api({"api.processes": "4"})
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["GLEANER_API_PROCESSES"] == "4"
    mount = [
        m for m in container["volumeMounts"] if m["name"] == "prometheus-multiproc"
    ]
    assert [m["mountPath"] for m in mount] == [env["PROMETHEUS_MULTIPROC_DIR"]]
    volume = [v for v in pod["volumes"] if v["name"] == "prometheus-multiproc"]
    assert volume == [
        {
            "name": "prometheus-multiproc",
            "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"},
        }
    ]
    # the command is unchanged: serve reads GLEANER_API_PROCESSES
    assert container["command"][:4] == ["python3", "-m", "gleaner_api", "serve"]


@pytest.mark.parametrize("processes", ["0", "65", "two"])
def test_api_processes_out_of_range_are_refused(processes: str) -> None:
    assert "processes" in render_error({"api.processes": processes})


def test_existing_api_key_secret_replaces_the_generated_one() -> None:
    manifests = render({"api.auth.existingSecret": "mine"})
    assert "gleaner-api-key" not in {
        m["metadata"]["name"] for m in of_kind(manifests, "Secret")
    }
    env = jp(
        "spec.template.spec.containers[0].env",
        by_name(manifests, "Deployment", "gleaner-api"),
    )
    assert {"name": "mine", "key": "api-key"} in [
        e.get("valueFrom", {}).get("secretKeyRef") for e in env
    ]


@pytest.mark.parametrize("ai_timeout", [None, "600"])
def test_grace_periods_cover_job_timeouts(ai_timeout: str | None) -> None:
    manifests = render(
        {"workers.ai.jobTimeoutSeconds": ai_timeout} if ai_timeout else {}
    )
    config = by_name(manifests, "ConfigMap", "gleaner-config")["data"]
    for stage in STAGES:
        timeout = int(config[f"GLEANER_{stage.upper()}_TIMEOUT"])
        grace = jp(
            "spec.template.spec.terminationGracePeriodSeconds",
            worker_deployment(manifests, stage),
        )
        assert grace >= timeout
    if ai_timeout:
        assert config["GLEANER_AI_TIMEOUT"] == ai_timeout


def test_grace_below_timeout_is_refused() -> None:
    message = render_error({"workers.parsing.terminationGracePeriodSeconds": "10"})
    assert "below its jobTimeoutSeconds" in message


def test_no_latest_or_untagged_images(mode: tuple[str, list[Manifest]]) -> None:
    _, manifests = mode
    images = [c["image"] for _, pod in pod_specs(manifests) for c in pod["containers"]]
    assert len(images) >= 9
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name, image
        assert tag not in ("", "latest"), image


def test_security_context_everywhere(mode: tuple[str, list[Manifest]]) -> None:
    _, manifests = mode
    for name, pod in pod_specs(manifests):
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, (
            name
        )
        for container in pod["containers"] + pod.get("initContainers", []):
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"] == {"drop": ["ALL"]}, name
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
            assert container["resources"]["requests"], name


def test_values_schema_rejects_a_typo() -> None:
    assert "parsng" in render_error({"workers.parsng.replicas": "1"})
    assert "replica" in render_error({"api.replicaCount": "3"})


def test_values_schema_rejects_negative_replicas_and_wrong_types() -> None:
    assert "workerDefaults.replicas" in render_error({"workerDefaults.replicas": "-1"})
    assert "workers.ai.replicas" in render_error({"workers.ai.replicas": "-2"})
    assert "mode" in render_error({"workers.ai.autoscaling.mode": "vpa"})
    assert "api.image.tag" in render_error({"api.image.tag": "latest"})


def test_values_yaml_meets_its_strict_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator(schema).validate(
        yaml.safe_load((CHART / "values.yaml").read_text())
    )

    def closed(node: object, path: str) -> None:
        if isinstance(node, dict):
            if "properties" in node:
                assert node.get("additionalProperties") is False, f"{path} is open"
            for key, child in node.items():
                closed(child, f"{path}/{key}")

    closed(schema, "#")


def test_monitoring_renders_only_with_its_api_or_forced() -> None:
    assert not [m for m in render() if m["kind"] in CR_KINDS]
    with_api = render(api_versions=("monitoring.coreos.com/v1",))
    monitors = {m["metadata"]["name"]: m for m in of_kind(with_api, "ServiceMonitor")}
    assert set(monitors) == {"gleaner-api"} | {f"gleaner-worker-{s}" for s in STAGES}
    assert jp("spec.endpoints[0].port", monitors["gleaner-api"]) == "http"
    assert jp("spec.endpoints[0].port", monitors["gleaner-worker-ai"]) == "metrics"
    rules = yaml.safe_load((CHART / "files" / "prometheus-rules.yaml").read_text())
    assert (
        by_name(with_api, "PrometheusRule", "gleaner")["spec"]["groups"]
        == rules["groups"]
    )
    forced = render(
        {"metrics.serviceMonitor.force": "true", "metrics.prometheusRule.force": "true"}
    )
    assert len(of_kind(forced, "ServiceMonitor")) == 4
    assert len(of_kind(forced, "PrometheusRule")) == 1


def test_dashboard_configmap_carries_the_dashboards() -> None:
    dashboards = by_name(render(), "ConfigMap", "gleaner-dashboards")
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    for path in (CHART / "files" / "dashboards").glob("*.json"):
        assert json.loads(dashboards["data"][path.name]) == json.loads(path.read_text())


def test_external_stores_replace_the_statefulsets() -> None:
    manifests = render(
        {
            "postgresql.enabled": "false",
            "database.external.existingSecret": "db",
            "redis.enabled": "false",
            "redisExternal.existingSecret": "redis",
        }
    )
    assert not of_kind(manifests, "StatefulSet")
    env = jp(
        "spec.template.spec.containers[0].env", worker_deployment(manifests, "parsing")
    )
    refs = {e["name"]: jp("valueFrom.secretKeyRef", e) for e in env}
    assert refs["GLEANER_DATABASE_URL"] == {"name": "db", "key": "url"}
    assert refs["GLEANER_REDIS_URL"] == {"name": "redis", "key": "url"}
    assert "externalDatabase.existingSecret" in render_error(
        {"postgresql.enabled": "false"}
    )


def test_parsing_reaches_the_internet_but_not_cluster_or_metadata_addresses() -> None:
    manifests = render()
    policy = by_name(manifests, "NetworkPolicy", "gleaner-worker-parsing")
    internet = [
        rule
        for rule in policy["spec"]["egress"]
        if jp("to[].ipBlock.cidr", rule) == ["0.0.0.0/0", "::/0"]
    ]
    assert len(internet) == 1
    blocked = internet[0]["to"][0]["ipBlock"]["except"]
    for cidr in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "127.0.0.0/8",
    ):
        assert cidr in blocked
    assert "fc00::/7" in internet[0]["to"][1]["ipBlock"]["except"]
    assert sorted(jp("ports[].port", internet[0])) == [80, 443]
    ai = by_name(manifests, "NetworkPolicy", "gleaner-worker-ai")
    assert [80] not in [jp("ports[].port", rule) for rule in ai["spec"]["egress"]]
    for store in ("gleaner-redis", "gleaner-postgresql"):
        ingress = by_name(manifests, "NetworkPolicy", store)["spec"]["ingress"]
        assert (
            jp("[0].from[0].podSelector.matchLabels", ingress)["gleaner.io/data-client"]
            == "true"
        )


def test_rbac_is_only_what_the_workers_use() -> None:
    manifests = render({"networkPolicy.kubeAPIServerCIDRs[0]": "10.0.0.5/32"})
    (role,) = of_kind(manifests, "Role")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "patch"]}
    ]
    assert not of_kind(manifests, "ClusterRole")
    api = by_name(manifests, "Deployment", "gleaner-api")
    assert jp("spec.template.spec.automountServiceAccountToken", api) is False
    for stage in STAGES:
        assert (
            jp(
                "spec.template.spec.serviceAccountName",
                worker_deployment(manifests, stage),
            )
            == "gleaner-worker"
        )
    env = jp(
        "spec.template.spec.containers[0].env[].name",
        worker_deployment(manifests, "notion"),
    )
    assert {"GLEANER_POD_NAME", "GLEANER_POD_NAMESPACE"} <= set(env)


def test_migrations_job_and_retention_cronjob() -> None:
    manifests = render({"retention.completedDays": "3"})
    (job,) = of_kind(manifests, "Job")  # hooks and names: test_convergence.py
    assert jp("spec.template.spec.containers[0].command", job) == [
        "python3",
        "-m",
        "gleaner_api",
        "migrate",
    ]
    cron = by_name(manifests, "CronJob", "gleaner-retention")
    assert (
        jp("spec.jobTemplate.spec.template.spec.containers[0].command[-1]", cron)
        == "retention"
    )
    config = by_name(manifests, "ConfigMap", "gleaner-config")["data"]
    assert (
        config["GLEANER_RETENTION_COMPLETED_DAYS"],
        config["GLEANER_RETENTION_FAILED_DAYS"],
    ) == ("3", "30")


def test_readme_documents_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    lines = [line.strip() for line in (CHART / "values.yaml").read_text().splitlines()]
    params = [line.split()[2] for line in lines if line.startswith("## @param")]
    assert len(params) > 80
    missing = [p for p in params if f"`{p}`" not in readme]
    assert not missing, (
        f"README.md lacks {missing}: run `uv run python scripts/chart_values_table.py`"
    )


def test_render_is_deterministic_for_plain_manifests() -> None:
    values = {
        "api.auth.existingSecret": "k",
        "postgresql.existingSecret": "p",
        "modelKeys.existingSecret": "m",
    }
    assert render_text(values) == render_text(values)


def test_global_registry_covers_the_stores_and_a_digest_replaces_the_tag() -> None:
    digest = "sha256:" + "a" * 64
    manifests = render(
        {
            "image.registry": "mirror.example",
            "postgresql.image.digest": digest,
            "workers.ai.image.digest": digest,
        }
    )
    images = [c["image"] for _, pod in pod_specs(manifests) for c in pod["containers"]]
    assert all(image.startswith("mirror.example/") for image in images), images
    assert f"mirror.example/postgres@{digest}" in images
    assert f"mirror.example/gleaner/gleaner-worker-ai@{digest}" in images
    assert "mirror.example/redis:7.4.1-bookworm" in images
