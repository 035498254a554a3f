"""The conventions people expect of a chart (bitnami, the Airflow chart): every one set at once on the API,
every worker and the reconciler, rendered, checked against the Kubernetes schemas and the API server's pod
rules, and each value found where it belongs."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.apiserver_rules import network_policy_errors, pod_spec_errors
from tests.deploy.chart import (
    CHART,
    STAGES,
    Manifest,
    by_name,
    jp,
    of_kind,
    render,
    render_error,
    run_helm,
)

SIDECAR = {
    "name": "log-shipper",
    "image": "busybox:1.36",
    "args": ["sleep", "infinity"],
}
INIT = {"name": "seed", "image": "busybox:1.36", "command": ["true"]}
VOLUME = {"name": "certs", "secret": {"secretName": "corp-ca"}}
MOUNT = {"name": "certs", "mountPath": "/etc/corp-ca", "readOnly": True}
SPREAD = {
    "maxSkew": 1,
    "topologyKey": "topology.kubernetes.io/zone",
    "whenUnsatisfiable": "ScheduleAnyway",
    "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "gleaner"}},
}
ENV = {"name": "HTTPS_PROXY", "value": "http://proxy.corp:3128"}
ENV_FROM = {"secretRef": {"name": "corp-env"}}
PROBE = {"httpGet": {"path": "/metrics", "port": "metrics"}, "periodSeconds": 30}


def conventions(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    common = {
        "podLabels": {"team": "content", "cost-center": "cc-42"},
        "priorityClassName": "gleaner-high",
        "topologySpreadConstraints": [SPREAD],
        "extraEnv": [ENV],
        "extraEnvFrom": [ENV_FROM],
        "extraVolumes": [VOLUME],
        "extraVolumeMounts": [MOUNT],
        "extraInitContainers": [INIT],
        "extraContainers": [SIDECAR],
        **(extra or {}),
    }
    return {
        "api": {
            **common,
            "processes": 3,  # its metrics volume next to the extra ones
            "livenessProbe": {"periodSeconds": 20, "failureThreshold": 9},
            "customReadinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 7},
            "startupProbe": {"enabled": False},
        },
        "workerDefaults": {**common, "livenessProbe": PROBE},
        "reconciler": {**common, "startupProbe": {"exec": {"command": ["true"]}}},
    }


def render_values(tmp: Path, values: dict[str, Any]) -> list[Manifest]:
    path = tmp / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    out = run_helm(
        "template", "gleaner", str(CHART), "--namespace", "gleaner", "-f", str(path)
    )
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> list[Manifest]:
    return render_values(tmp_path_factory.mktemp("conv"), conventions())


def deployments(manifests: list[Manifest]) -> list[Manifest]:
    names = ["gleaner-api", "gleaner-reconciler"] + [
        f"gleaner-worker-{s}" for s in STAGES
    ]
    return [by_name(manifests, "Deployment", n) for n in names]


def main_container(deployment: Manifest) -> Manifest:
    container: Manifest = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


@pytest.mark.parametrize("version", ["1.29", "1.33"])
def test_valid_for_the_schemas_and_the_api_server(
    manifests: list[Manifest], version: str
) -> None:
    errors: list[str] = []
    for manifest in manifests:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            continue  # CRs and 1.30+ kinds: test_chart.py covers them
        except kubernetes_validate.ValidationError as exc:
            errors.append(
                f"{manifest['kind']}/{manifest['metadata']['name']}: {exc.message}"
            )
    for policy in of_kind(manifests, "NetworkPolicy"):
        errors += network_policy_errors(policy)
    for deployment in of_kind(manifests, "Deployment"):
        template = deployment["spec"]["template"]
        errors += pod_spec_errors(
            deployment["metadata"]["name"],
            template["spec"],
            template["metadata"]["labels"],
        )
    assert not errors, "\n".join(errors)


def test_each_convention_lands_in_every_pod(manifests: list[Manifest]) -> None:
    for deployment in deployments(manifests):
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]
        spec = pod["spec"]
        assert pod["metadata"]["labels"]["team"] == "content", name
        assert spec["priorityClassName"] == "gleaner-high", name
        assert spec["topologySpreadConstraints"] == [SPREAD], name
        assert VOLUME in spec["volumes"], name
        assert {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}} in spec["volumes"], (
            name
        )
        # The chart's own init container still runs first; the extra one after it.
        assert [c["name"] for c in spec["initContainers"]] == [
            "wait-for-schema",
            "seed",
        ], name
        assert [c["name"] for c in spec["containers"]][1:] == ["log-shipper"], name
        container = main_container(deployment)
        assert ENV in container["env"], name
        assert ENV_FROM in container["envFrom"], name
        assert len(container["envFrom"]) == 2, name
        assert MOUNT in container["volumeMounts"], name


def test_pod_labels_never_replace_the_chart_selectors(tmp_path: Path) -> None:
    hijack = {
        "podLabels": {
            "app.kubernetes.io/component": "evil",
            "gleaner.io/data-client": "false",
        }
    }
    values = {"api": hijack, "workerDefaults": hijack, "reconciler": hijack}
    for deployment in deployments(render_values(tmp_path, values)):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert all(labels[k] == v for k, v in selector.items())
        assert labels["gleaner.io/data-client"] == "true"


def test_probe_overrides(manifests: list[Manifest]) -> None:
    api = main_container(by_name(manifests, "Deployment", "gleaner-api"))
    assert api["livenessProbe"]["periodSeconds"] == 20
    assert api["livenessProbe"]["failureThreshold"] == 9
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert api["readinessProbe"] == {"tcpSocket": {"port": "http"}, "periodSeconds": 7}
    assert "startupProbe" not in api
    for stage in STAGES:
        assert (
            main_container(by_name(manifests, "Deployment", f"gleaner-worker-{stage}"))[
                "livenessProbe"
            ]
            == PROBE
        )
    reconciler = main_container(by_name(manifests, "Deployment", "gleaner-reconciler"))
    assert reconciler["startupProbe"] == {"exec": {"command": ["true"]}}
    # Defaults: the API's three probes, none on workers or the reconciler.
    plain = render()
    api = main_container(by_name(plain, "Deployment", "gleaner-api"))
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert api["startupProbe"]["failureThreshold"] == 30
    for deployment in deployments(plain)[1:]:
        assert not {"livenessProbe", "readinessProbe", "startupProbe"} & set(
            main_container(deployment)
        )


def test_service_accounts_create_and_name() -> None:
    named = render(
        {
            "serviceAccount.api.name": "corp-api",
            "serviceAccount.worker.name": "corp-worker",
            "workerDefaults.podDeletionCost": "on",
        }
    )
    assert {m["metadata"]["name"] for m in of_kind(named, "ServiceAccount")} == {
        "corp-api",
        "corp-worker",
    }
    assert (
        jp(
            "spec.template.spec.serviceAccountName",
            by_name(named, "Deployment", "gleaner-api"),
        )
        == "corp-api"
    )
    assert (
        jp(
            "spec.template.spec.serviceAccountName",
            by_name(named, "Deployment", "gleaner-reconciler"),
        )
        == "corp-api"
    )
    for stage in STAGES:
        assert (
            jp(
                "spec.template.spec.serviceAccountName",
                by_name(named, "Deployment", f"gleaner-worker-{stage}"),
            )
            == "corp-worker"
        )
    (binding,) = of_kind(named, "RoleBinding")
    assert binding["subjects"][0]["name"] == "corp-worker"
    (policy,) = of_kind(named, "ValidatingAdmissionPolicy")
    assert "system:serviceaccount:gleaner:corp-worker" in str(
        policy["spec"]["matchConditions"]
    )
    none = render({"serviceAccount.create": "false"})
    assert not of_kind(none, "ServiceAccount")
    only_api = render({"serviceAccount.worker.create": "false"})
    assert [m["metadata"]["name"] for m in of_kind(only_api, "ServiceAccount")] == [
        "gleaner-api"
    ]
    # Least privilege: the account that may patch pods is never the API's.
    assert "must not share" in render_error(
        {"serviceAccount.api.name": "one", "serviceAccount.worker.name": "one"}
    )


def test_the_model_keys_encryption_key_reaches_the_api_and_the_ai_worker_only(
    manifests: list[Manifest],
) -> None:
    from cryptography.fernet import Fernet

    plain = render()
    secret = by_name(plain, "Secret", "gleaner-model-keys")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    key = base64.b64decode(secret["data"]["encryption-key"]).decode()
    Fernet(key.encode())  # the form GLEANER_MODEL_KEYS_ENCRYPTION_KEY must have
    ref = {"name": "gleaner-model-keys", "key": "encryption-key"}
    holders = set()
    for deployment in of_kind(plain, "Deployment"):
        for entry in main_container(deployment).get("env", []):
            if entry["name"] == "GLEANER_MODEL_KEYS_ENCRYPTION_KEY":
                assert entry["valueFrom"]["secretKeyRef"] == ref
                holders.add(deployment["metadata"]["name"])
    assert holders == {"gleaner-api", "gleaner-worker-ai"}
    mine = render(
        {"modelKeys.existingSecret": "corp-fernet", "modelKeys.existingSecretKey": "k"}
    )
    assert not [
        m
        for m in of_kind(mine, "Secret")
        if m["metadata"]["name"] == "gleaner-model-keys"
    ]
    env = {
        e["name"]: e
        for e in main_container(by_name(mine, "Deployment", "gleaner-worker-ai"))["env"]
    }
    assert env["GLEANER_MODEL_KEYS_ENCRYPTION_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "corp-fernet",
        "key": "k",
    }
    off = render({"modelKeys.enabled": "false"})
    assert "GLEANER_MODEL_KEYS_ENCRYPTION_KEY" not in str(off)


def env_of(deployment: Manifest) -> dict[str, Manifest]:
    return {e["name"]: e for e in main_container(deployment)["env"]}


def test_external_database_with_a_password_secret_and_the_old_names() -> None:
    manifests = render(
        {
            "postgresql.enabled": "false",
            "externalDatabase.existingSecret": "db",
            "externalDatabase.host": "pg.corp",
            "externalDatabase.user": "app@corp",
            "externalDatabase.database": "content",
            "redis.enabled": "false",
            "externalRedis.existingSecret": "cache",
        }
    )
    for deployment in deployments(manifests):
        env = env_of(deployment)
        assert (
            env["GLEANER_DATABASE_URL"]["value"]
            == "postgresql://app%40corp@pg.corp:5432/content"
        )
        assert env["GLEANER_DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "db",
            "key": "password",
        }
        assert env["GLEANER_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "cache",
            "key": "url",
        }
    old = render(
        {
            "postgresql.enabled": "false",
            "database.external.existingSecret": "db",
            "redis.enabled": "false",
            "redisExternal.existingSecret": "cache",
        }
    )
    env = env_of(by_name(old, "Deployment", "gleaner-api"))
    assert env["GLEANER_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "db",
        "key": "url",
    }
    assert "GLEANER_DATABASE_PASSWORD" not in env


def test_the_builtin_database_password_never_enters_the_url_unquoted() -> None:
    # A password with `@:/?#%` from postgresql.existingSecret: the kubelet's $(VAR) expansion would paste
    # it raw into the URL; the chart passes it alone and Settings quotes it (tests/core/test_database_password.py).
    manifests = render({"postgresql.existingSecret": "pg"})
    for deployment in deployments(manifests):
        env = env_of(deployment)
        assert (
            env["GLEANER_DATABASE_URL"]["value"]
            == "postgresql://gleaner@gleaner-postgresql:5432/gleaner"
        )
        assert "$(" not in env["GLEANER_DATABASE_URL"]["value"]
        assert env["GLEANER_DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "pg",
            "key": "password",
        }


def security_contexts(manifests: list[Manifest]) -> list[tuple[str, Manifest]]:
    """Every pod-level and container-level securityContext of every workload and the test pod."""
    found = []
    for manifest in manifests:
        kind = manifest["kind"]
        pod = {
            "Deployment": "spec.template.spec",
            "StatefulSet": "spec.template.spec",
            "Job": "spec.template.spec",
            "CronJob": "spec.jobTemplate.spec.template.spec",
            "Pod": "spec",
        }.get(kind)
        if pod is None:
            continue
        spec = jp(pod, manifest)
        name = f"{kind}/{manifest['metadata']['name']}"
        found.append((name, spec.get("securityContext", {})))
        for container in spec.get("initContainers", []) + spec["containers"]:
            found.append(
                (f"{name}/{container['name']}", container.get("securityContext", {}))
            )
    return found


@pytest.mark.parametrize(
    ("mode", "openshift", "fixed"),
    [
        ("auto", False, True),
        ("auto", True, False),
        ("force", False, False),
        ("disabled", True, True),
    ],
)
def test_openshift_gets_no_fixed_ids(mode: str, openshift: bool, fixed: bool) -> None:
    apis = ("security.openshift.io/v1",) if openshift else ()
    manifests = render(
        {"global.compatibility.openshift.adaptSecurityContext": mode}, apis
    )
    contexts = security_contexts(manifests)
    ids = {"runAsUser", "runAsGroup", "fsGroup"}
    with_ids = [name for name, context in contexts if ids & set(context)]
    if fixed:
        # The Gleaner pods (65532) and the built-in PostgreSQL and Redis (999).
        assert {
            "StatefulSet/gleaner-postgresql",
            "StatefulSet/gleaner-redis",
            "Deployment/gleaner-api",
        } <= set(with_ids)
    else:
        assert with_ids == []
    pods = [c for name, c in contexts if name.count("/") == 1]
    assert all(c["runAsNonRoot"] is True for c in pods)
    for manifest in manifests:
        try:
            kubernetes_validate.validate(manifest, "1.33", strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            continue
