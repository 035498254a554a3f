"""The chart's tracing switch: off sets no OTEL_* variable anywhere; on sets the standard ones on every
Gleaner container, each with its own service.name, and opens egress to the collector."""

from __future__ import annotations

from typing import Any

from tests.deploy.chart import of_kind, render, render_error

ON = {
    "tracing.enabled": "true",
    "tracing.endpoint": "http://otel-collector.observability:4318",
    "tracing.samplerRatio": "0.25",
    "tracing.headersSecret": "otlp-auth",
    "tracing.resourceAttributes": "deployment.environment=prod",
    "tracing.uiUrl": "https://jaeger.example/trace/{trace_id}",
    "tracing.egress[0].ports[0].port": "4318",
}


def containers(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    spec = manifest["spec"]["template"]["spec"]
    return list(spec["containers"])


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {
        e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])
    }


def test_off_by_default_sets_no_otel_variable() -> None:
    manifests = render()
    for deployment in of_kind(manifests, "Deployment"):
        for container in containers(deployment):
            assert not [n for n in env_of(container) if n.startswith("OTEL_")]
    (config,) = [
        m
        for m in of_kind(manifests, "ConfigMap")
        if m["metadata"]["name"].endswith("-config")
    ]
    assert "GLEANER_TRACE_URL" not in config["data"]


def test_on_every_deployment_exports_with_its_own_service_name() -> None:
    manifests = render(ON)
    names = {}
    for deployment in of_kind(manifests, "Deployment"):
        (container,) = containers(deployment)
        env = env_of(container)
        names[deployment["metadata"]["labels"]["app.kubernetes.io/component"]] = env[
            "OTEL_SERVICE_NAME"
        ]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == ON["tracing.endpoint"]
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
        assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.25"
        assert env["OTEL_RESOURCE_ATTRIBUTES"] == (
            "k8s.namespace.name=gleaner,deployment.environment=prod"
        )
        assert env["OTEL_EXPORTER_OTLP_HEADERS"] == {
            "secretKeyRef": {"name": "otlp-auth", "key": "headers"}
        }
    assert {k: v for k, v in names.items() if k != "reconciler"} == {
        "api": "gleaner-api",
        "worker-parsing": "gleaner-worker-parsing",
        "worker-ai": "gleaner-worker-ai",
        "worker-notion": "gleaner-worker-notion",
    }
    (config,) = [
        m
        for m in of_kind(manifests, "ConfigMap")
        if m["metadata"]["name"].endswith("-config")
    ]
    assert config["data"]["GLEANER_TRACE_URL"] == ON["tracing.uiUrl"]
    for policy in of_kind(manifests, "NetworkPolicy"):
        if policy["spec"].get("egress"):
            assert {"ports": [{"port": 4318}]} in policy["spec"]["egress"], policy[
                "metadata"
            ]["name"]


def test_on_without_an_endpoint_is_refused_with_the_fix() -> None:
    assert "set tracing.endpoint" in render_error({"tracing.enabled": "true"})
