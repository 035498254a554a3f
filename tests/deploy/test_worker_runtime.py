"""The chart against the worker runtime (gleaner.worker, gleaner.reconciler, gleaner.podcost): job threads
per pod and the autoscaling target that follows them, the shutdown grace under the pod's grace period,
pod-deletion-cost (downward API, RBAC, the API server through NetworkPolicies), the always-on reconciler,
and which component gets which secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from gleaner.settings import Settings
from gleaner.worker import DEFAULT_STOP_TIMEOUT_SECONDS
from tests.deploy.chart import (
    CRD_APIS,
    STAGES,
    Manifest,
    by_name,
    jp,
    of_kind,
    render,
    render_error,
    render_notes,
)

WORKERS = tuple(f"gleaner-worker-{stage}" for stage in STAGES)
DEFAULT_CONCURRENCY = {"parsing": 4, "ai": 2, "notion": 4}
SECRETS = (
    "GLEANER_BOOTSTRAP_API_KEY",
    "GLEANER_NOTION_TOKEN",
    "GLEANER_OPENAI_API_KEY",
)
WORKLOADS = {
    "Deployment": "spec.template.spec",
    "StatefulSet": "spec.template.spec",
    "Job": "spec.template.spec",
    "CronJob": "spec.jobTemplate.spec.template.spec",
}


def container(manifest: Manifest) -> Manifest:
    path = WORKLOADS[manifest["kind"]]
    containers: list[Manifest] = jp(f"{path}.containers", manifest)
    assert len(containers) == 1, manifest["metadata"]["name"]
    return containers[0]


def env_of(manifest: Manifest) -> dict[str, Manifest]:
    return {entry["name"]: entry for entry in container(manifest).get("env", [])}


def env_value(manifest: Manifest, name: str) -> str:
    value = env_of(manifest)[name]["value"]
    assert isinstance(value, str)
    return value


def worker(manifests: list[Manifest], stage: str) -> Manifest:
    return by_name(manifests, "Deployment", f"gleaner-worker-{stage}")


def workloads(manifests: list[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m["kind"] in WORKLOADS]


def quantity(text: str) -> float:
    """The plain decimal quantities the chart renders ("6", "4.5"); anything else fails the test."""
    return float(text)


# --- 1. concurrency and the autoscaling target -------------------------------------------------------


def test_each_worker_runs_its_stage_concurrency() -> None:
    manifests = render()
    for stage, concurrency in DEFAULT_CONCURRENCY.items():
        assert env_value(worker(manifests, stage), "GLEANER_WORKER_CONCURRENCY") == str(
            concurrency
        )
    # The CPU-bound AI stage: as many threads as the CPU limit, no more.
    ai_limits = jp("resources.limits", container(worker(manifests, "ai")))
    assert quantity(ai_limits["cpu"]) == DEFAULT_CONCURRENCY["ai"]
    # The value the chart passes is one the worker accepts.
    for concurrency in DEFAULT_CONCURRENCY.values():
        assert (
            Settings(WORKER_CONCURRENCY=concurrency).WORKER_CONCURRENCY == concurrency
        )


def test_concurrency_is_1_to_64_like_the_setting() -> None:
    manifests = render(
        {"workers.parsing.concurrency": "64", "workers.ai.concurrency": "1"}
    )
    assert env_value(worker(manifests, "parsing"), "GLEANER_WORKER_CONCURRENCY") == "64"
    assert env_value(worker(manifests, "ai"), "GLEANER_WORKER_CONCURRENCY") == "1"
    assert "concurrency" in render_error({"workers.parsing.concurrency": "65"})
    assert "concurrency" in render_error({"workerDefaults.concurrency": "0"})
    field = Settings.model_fields["WORKER_CONCURRENCY"]
    bounds = {type(m).__name__: m for m in field.metadata}
    assert (bounds["Ge"].ge, bounds["Le"].le) == (1, 64)


@pytest.mark.parametrize(
    ("values", "apis"),
    [
        ({}, ()),
        (
            {"workerDefaults.autoscaling.mode": "keda"},
            CRD_APIS,
        ),
    ],
    ids=["hpa", "keda"],
)
def test_autoscaling_target_is_concurrency_times_backlog_per_slot(
    values: dict[str, str], apis: tuple[str, ...]
) -> None:
    manifests = render({**values, "workers.parsing.concurrency": "8"}, apis)
    concurrency = {**DEFAULT_CONCURRENCY, "parsing": 8}
    for stage in STAGES:
        name = f"gleaner-worker-{stage}"
        if apis:
            target = jp(
                "spec.triggers[0].metadata.threshold",
                by_name(manifests, "ScaledObject", name),
            )
        else:
            target = jp(
                "spec.metrics[0].external.target.averageValue",
                by_name(manifests, "HorizontalPodAutoscaler", name),
            )
        # Backlog counts running jobs: a target below concurrency would scale out with threads idle.
        assert quantity(target) == concurrency[stage] * 1.5
        assert quantity(target) >= concurrency[stage]


def test_a_fixed_backlog_target_and_a_fractional_one() -> None:
    manifests = render(
        {
            "workers.notion.autoscaling.targetBacklogPerReplica": "10",
            "workers.parsing.concurrency": "3",
        }
    )
    hpa = {
        m["metadata"]["name"]: m for m in of_kind(manifests, "HorizontalPodAutoscaler")
    }
    target = "spec.metrics[0].external.target.averageValue"
    assert jp(target, hpa["gleaner-worker-notion"]) == "10"
    assert jp(target, hpa["gleaner-worker-parsing"]) == "4.5"
    assert "targetBacklogPerJobSlot" in render_error(
        {"workerDefaults.autoscaling.targetBacklogPerJobSlot": "0"}
    )


# --- 2. shutdown grace ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, {"parsing": 90, "ai": 150, "notion": 90}),
        ({"workers.ai.terminationGracePeriodSeconds": "600"}, {"ai": 600}),
        # A grace period under the stop timeout: the worker stops its jobs at once, never a negative grace.
        (
            {
                "workers.notion.jobTimeoutSeconds": "5",
                "workers.notion.terminationGracePeriodSeconds": "5",
            },
            {"notion": 5},
        ),
    ],
)
def test_shutdown_grace_ends_a_stop_timeout_before_the_sigkill(
    values: dict[str, str], expected: dict[str, int]
) -> None:
    manifests = render(values)
    for stage, grace in expected.items():
        deployment = worker(manifests, stage)
        assert (
            jp("spec.template.spec.terminationGracePeriodSeconds", deployment) == grace
        )
        shutdown = float(env_value(deployment, "GLEANER_WORKER_SHUTDOWN_GRACE_SECONDS"))
        # After the grace the worker gives jobs DEFAULT_STOP_TIMEOUT_SECONDS to requeue, then exits.
        assert shutdown == max(0.0, grace - DEFAULT_STOP_TIMEOUT_SECONDS)
        assert shutdown + DEFAULT_STOP_TIMEOUT_SECONDS <= grace or shutdown == 0.0


# --- 3. pod-deletion-cost ---------------------------------------------------------------------------------


def test_workers_know_their_pod_and_may_patch_it() -> None:
    manifests = render({"networkPolicy.kubeAPIServerCIDRs[0]": "10.0.0.5/32"})
    for stage in STAGES:
        deployment = worker(manifests, stage)
        env = env_of(deployment)
        assert (
            jp("valueFrom.fieldRef.fieldPath", env["GLEANER_POD_NAME"])
            == "metadata.name"
        )
        assert (
            jp("valueFrom.fieldRef.fieldPath", env["GLEANER_POD_NAMESPACE"])
            == "metadata.namespace"
        )
        assert env["GLEANER_POD_DELETION_COST"]["value"] == "auto"
        assert jp("spec.template.spec.automountServiceAccountToken", deployment) is True
        assert (
            jp("spec.template.spec.serviceAccountName", deployment) == "gleaner-worker"
        )
    (role,) = of_kind(manifests, "Role")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "patch"]}
    ]
    (binding,) = of_kind(manifests, "RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "gleaner-worker", "namespace": "gleaner"}
    ]
    assert not of_kind(manifests, "ClusterRoleBinding")


def test_nothing_but_the_workers_mounts_a_token_or_knows_its_pod() -> None:
    manifests = render()
    accounts = {m["metadata"]["name"]: m for m in of_kind(manifests, "ServiceAccount")}
    assert all(sa["automountServiceAccountToken"] is False for sa in accounts.values())
    for manifest in workloads(manifests):
        name = manifest["metadata"]["name"]
        if name in WORKERS:
            continue
        pod = jp(WORKLOADS[manifest["kind"]], manifest)
        account = pod.get("serviceAccountName")
        mounts = pod.get("automountServiceAccountToken")
        if mounts is None:  # the pod follows its ServiceAccount
            mounts = (
                accounts[account]["automountServiceAccountToken"] if account else True
            )
        assert mounts is False, name
        assert not {"GLEANER_POD_NAME", "GLEANER_POD_DELETION_COST"} & set(
            env_of(manifest)
        ), name


@pytest.mark.parametrize(
    "values",
    [{"workerDefaults.podDeletionCost": "off"}, {"rbac.create": "false"}],
    ids=["cost-off", "no-rbac"],
)
def test_without_pod_deletion_cost_no_token_and_no_role(values: dict[str, str]) -> None:
    manifests = render({**values, "networkPolicy.kubeAPIServerCIDRs[0]": "10.0.0.5/32"})
    assert not of_kind(manifests, "Role")
    assert not of_kind(manifests, "RoleBinding")
    for stage in STAGES:
        deployment = worker(manifests, stage)
        assert env_value(deployment, "GLEANER_POD_DELETION_COST") == "off"
        assert (
            jp("spec.template.spec.automountServiceAccountToken", deployment) is False
        )
        policy = by_name(manifests, "NetworkPolicy", f"gleaner-worker-{stage}")
        assert "10.0.0.5/32" not in str(policy["spec"]["egress"])


def test_one_worker_without_the_cost_keeps_the_role_for_the_others() -> None:
    manifests = render(
        {
            "workers.ai.podDeletionCost": "off",
            **{"networkPolicy.kubeAPIServerCIDRs[0]": "10.0.0.5/32"},
        }
    )
    assert len(of_kind(manifests, "Role")) == 1
    assert (
        jp("spec.template.spec.automountServiceAccountToken", worker(manifests, "ai"))
        is False
    )
    assert (
        jp(
            "spec.template.spec.automountServiceAccountToken",
            worker(manifests, "parsing"),
        )
        is True
    )


def test_cost_on_without_rbac_is_refused() -> None:
    message = render_error(
        {"workers.notion.podDeletionCost": "on", "rbac.create": "false"}
    )
    assert "rbac.create" in message
    assert "podDeletionCost" in render_error(
        {"workerDefaults.podDeletionCost": "always"}
    )


def test_every_worker_reaches_the_api_server_when_its_address_is_given() -> None:
    cidrs = ["10.0.0.5/32", "10.0.0.6/32"]
    manifests = render(
        {f"networkPolicy.kubeAPIServerCIDRs[{i}]": cidr for i, cidr in enumerate(cidrs)}
    )
    for stage in STAGES:
        egress = by_name(manifests, "NetworkPolicy", f"gleaner-worker-{stage}")["spec"][
            "egress"
        ]
        to_api = [rule for rule in egress if jp("to[].ipBlock.cidr", rule) == cidrs]
        assert len(to_api) == 1, stage
        assert sorted(jp("ports[].port", to_api[0])) == [443, 6443]
        # The API server's private address is otherwise closed to the worker.
        internet = [
            rule for rule in egress if jp("to[0].ipBlock.cidr", rule) == "0.0.0.0/0"
        ]
        assert "10.0.0.0/8" in internet[0]["to"][0]["ipBlock"]["except"]
    for other in ("gleaner-api", "gleaner-reconciler"):
        assert "10.0.0.5/32" not in str(
            by_name(manifests, "NetworkPolicy", other)["spec"]
        )


def test_notes_warn_only_when_a_worker_is_told_to_patch_through_a_closed_policy(
    tmp_path: Path,
) -> None:
    warning = "Idle-pods-first scale-down"
    default = render_notes(tmp_path / "a")
    assert warning not in default
    assert "pod-deletion-cost" not in default
    assert "parsing: 4 job(s) per pod" in default
    forced = {"workers.parsing.podDeletionCost": "on"}
    assert warning in render_notes(tmp_path / "b", forced)
    openings = (
        {"networkPolicy.kubeAPIServerCIDRs[0]": "10.0.0.5/32"},
        {"networkPolicy.enabled": "false"},
        {"workers.parsing.networkPolicy.extraEgress[0].ports[0].port": "6443"},
    )
    for i, opened in enumerate(openings):
        assert warning not in render_notes(tmp_path / f"o{i}", {**forced, **opened})


def test_auto_holds_no_pod_rights_while_the_api_server_is_closed() -> None:
    # The default install: NetworkPolicies on, no API server address given. Nothing could get a patch
    # through, so no worker (the parsing worker that reads untrusted pages included) gets a token or a Role.
    manifests = render()
    assert not of_kind(manifests, "Role")
    assert not of_kind(manifests, "RoleBinding")
    assert not of_kind(manifests, "ValidatingAdmissionPolicy")
    for stage in STAGES:
        deployment = worker(manifests, stage)
        assert env_value(deployment, "GLEANER_POD_DELETION_COST") == "off"
        assert (
            jp("spec.template.spec.automountServiceAccountToken", deployment) is False
        )
    # "on" is the operator saying the patch gets through some other way (their CNI, a Cilium rule).
    forced = render({"workers.ai.podDeletionCost": "on"})
    (binding,) = of_kind(forced, "RoleBinding")
    assert env_value(worker(forced, "ai"), "GLEANER_POD_DELETION_COST") == "on"
    assert env_value(worker(forced, "parsing"), "GLEANER_POD_DELETION_COST") == "off"


def test_values_document_the_api_server_cidrs() -> None:
    from tests.deploy.chart import CHART

    values = (CHART / "values.yaml").read_text()
    readme = (CHART / "README.md").read_text()
    assert "## @param networkPolicy.kubeAPIServerCIDRs" in values
    # EndpointSlices: the v1 Endpoints API is deprecated from 1.33.
    assert (
        "kubectl -n default get endpointslices -l kubernetes.io/service-name=kubernetes"
        in values
    )
    assert "kubeAPIServerCIDRs" in readme.split("## Values")[0]


# --- 4. the reconciler ------------------------------------------------------------------------------------


def test_reconciler_runs_with_the_stores_and_nothing_else() -> None:
    manifests = render()
    reconciler = by_name(manifests, "Deployment", "gleaner-reconciler")
    main = container(reconciler)
    assert main["command"] == ["python3", "-m", "gleaner_api", "reconcile"]
    assert reconciler["spec"]["replicas"] == 1
    env = env_of(reconciler)
    assert {"GLEANER_DATABASE_URL", "GLEANER_REDIS_URL"} <= set(env)
    assert jp("envFrom[0].configMapRef.name", main) == "gleaner-config"
    # No HTTP port to probe, and a probe on Redis or SQL would only restart it during an outage it rides out.
    assert not {"livenessProbe", "readinessProbe", "startupProbe", "ports"} & set(main)
    pod = reconciler["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "gleaner-api"
    pdb = by_name(manifests, "PodDisruptionBudget", "gleaner-reconciler")
    assert (
        jp("spec.selector.matchLabels", pdb).items()
        <= jp("spec.template.metadata.labels", reconciler).items()
    )
    policy = by_name(manifests, "NetworkPolicy", "gleaner-reconciler")
    assert "ingress" not in policy["spec"]


def test_reconciler_cannot_be_switched_off() -> None:
    message = render_error({"reconciler.enabled": "false"})
    assert "retries would never run" in message
    assert "reconciler.enabled=true" in message


def test_reconciler_replicas() -> None:
    manifests = render({"reconciler.replicas": "2"})
    assert (
        by_name(manifests, "Deployment", "gleaner-reconciler")["spec"]["replicas"] == 2
    )
    assert "reconciler.replicas" in render_error({"reconciler.replicas": "0"})


# --- 5. secrets only where they are used -------------------------------------------------------------


def test_each_secret_reaches_only_its_component() -> None:
    manifests = render(
        {
            "workers.notion.secretEnv.GLEANER_NOTION_TOKEN.name": "notion",
            "workers.ai.secretEnv.GLEANER_OPENAI_API_KEY.name": "openai",
            "config.notionDatabaseId": "db-1",
        }
    )
    expected = {
        "gleaner-api": {
            "GLEANER_BOOTSTRAP_API_KEY": {"name": "gleaner-api-key", "key": "api-key"}
        },
        "gleaner-worker-notion": {
            "GLEANER_NOTION_TOKEN": {"name": "notion", "key": "token"}
        },
        "gleaner-worker-ai": {
            "GLEANER_OPENAI_API_KEY": {"name": "openai", "key": "api-key"}
        },
    }
    for manifest in workloads(manifests):
        name = manifest["metadata"]["name"]
        env = env_of(manifest)
        refs = {
            key: jp("valueFrom.secretKeyRef", entry)
            for key, entry in env.items()
            if key in SECRETS
        }
        assert refs == expected.get(name, {}), name
        database_id = env.get("GLEANER_NOTION_DATABASE_ID", {}).get("value")
        wanted = "db-1" if name in ("gleaner-api", "gleaner-worker-notion") else None
        assert database_id == wanted, name
    config = by_name(manifests, "ConfigMap", "gleaner-config")["data"]
    assert not {*SECRETS, "GLEANER_NOTION_DATABASE_ID"} & set(config)


def test_without_secret_names_the_workers_run_dry_and_offline() -> None:
    manifests = render()
    for stage in STAGES:
        assert not set(SECRETS) & set(env_of(worker(manifests, stage)))
    assert "GLEANER_NOTION_DATABASE_ID" not in env_of(
        by_name(manifests, "Deployment", "gleaner-api")
    )
