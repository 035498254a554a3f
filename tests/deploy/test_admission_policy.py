"""The ValidatingAdmissionPolicy that narrows the workers' pod-patch right, evaluated with a real CEL
implementation (cel-python) over admission requests built from the chart's own rendered pods, the way
the API server applies it: every matchCondition true → the policy applies; `variables` evaluated in
order into `variables.<name>`; the request is denied unless every validation is true."""

from __future__ import annotations

import copy
from typing import Any

import celpy
import pytest
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError

from tests.deploy.chart import CHART, Manifest, by_name, jp, of_kind, render, run_helm

WORKER_SA = "system:serviceaccount:gleaner:gleaner-worker"
COST = "controller.kubernetes.io/pod-deletion-cost"
POLICY = "gleaner-gleaner-worker-pod-deletion-cost"

ENV = celpy.Environment()


def evaluate(expression: str, activation: dict[str, Any]) -> Any:
    return ENV.program(ENV.compile(expression)).evaluate(activation)


def admitted(policy: Manifest, request: dict[str, Any]) -> tuple[bool, list[str]]:
    """(allowed, messages of the failed validations) for an UPDATE of a pod."""
    spec = policy["spec"]
    activation: dict[str, Any] = {
        "object": json_to_cel(request["object"]),
        "oldObject": json_to_cel(request["oldObject"]),
        "request": json_to_cel(
            {"operation": "UPDATE", "userInfo": request["userInfo"]}
        ),
    }
    for condition in spec.get("matchConditions", []):
        if not evaluate(condition["expression"], activation):
            return True, []  # the policy does not apply to this request
    variables: dict[str, Any] = {}
    for variable in spec.get("variables", []):
        activation["variables"] = celpy.celtypes.MapType(
            {celpy.celtypes.StringType(k): v for k, v in variables.items()}
        )
        variables[variable["name"]] = evaluate(variable["expression"], activation)
    activation["variables"] = celpy.celtypes.MapType(
        {celpy.celtypes.StringType(k): v for k, v in variables.items()}
    )
    failed = [
        v["message"]
        for v in spec["validations"]
        if not holds(v["expression"], activation)
    ]
    return not failed, failed


def holds(expression: str, activation: dict[str, Any]) -> bool:
    """A validation passes only when it evaluates to true; an evaluation error fails it, as in the API
    server (the policy's failurePolicy is Fail)."""
    try:
        return bool(evaluate(expression, activation) == celpy.celtypes.BoolType(True))
    except CELEvalError:
        return False


def pod_of(manifests: list[Manifest], deployment: str, name: str) -> dict[str, Any]:
    """A pod as its Deployment would create it (labels, annotations, spec), with an owner."""
    template = by_name(manifests, "Deployment", deployment)["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "gleaner",
            "labels": {**template["metadata"]["labels"], "pod-template-hash": "abc"},
            "annotations": dict(template["metadata"].get("annotations", {})),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"{deployment}-abc",
                    "uid": "u1",
                }
            ],
        },
        "spec": template["spec"],
    }


def request(
    old: dict[str, Any],
    change: Any,
    username: str = WORKER_SA,
    pod_name: str | None = "self",
) -> dict[str, Any]:
    new = copy.deepcopy(old)
    change(new)
    user: dict[str, Any] = {"username": username}
    if pod_name is not None:
        user["extra"] = {
            "authentication.kubernetes.io/pod-name": [
                old["metadata"]["name"] if pod_name == "self" else pod_name
            ]
        }
    return {"object": new, "oldObject": old, "userInfo": user}


def set_cost(value: str) -> Any:
    return lambda pod: pod["metadata"]["annotations"].__setitem__(COST, value)


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    return render({"networkPolicy.kubeAPIServerCIDRs[0]": "10.0.0.5/32"})


@pytest.fixture(scope="module")
def policy(manifests: list[Manifest]) -> Manifest:
    return by_name(manifests, "ValidatingAdmissionPolicy", POLICY)


def test_binding_denies_with_the_policy(
    manifests: list[Manifest], policy: Manifest
) -> None:
    binding = by_name(manifests, "ValidatingAdmissionPolicyBinding", POLICY)
    assert binding["spec"] == {"policyName": POLICY, "validationActions": ["Deny"]}
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert jp("spec.matchConstraints.namespaceSelector.matchLabels", policy) == {
        "kubernetes.io/metadata.name": "gleaner"
    }


def test_the_policy_names_the_account_the_role_is_bound_to(
    manifests: list[Manifest], policy: Manifest
) -> None:
    (binding,) = of_kind(manifests, "RoleBinding")
    (subject,) = binding["subjects"]
    account = f"system:serviceaccount:{subject['namespace']}:{subject['name']}"
    assert account == WORKER_SA
    (condition,) = policy["spec"]["matchConditions"]
    assert f'"{account}"' in condition["expression"]
    (role,) = of_kind(manifests, "Role")
    # Whatever the Role allows must be what the policy sees: UPDATE of pods, no subresource.
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "patch"]}
    ]
    (rule,) = jp("spec.matchConstraints.resourceRules", policy)
    assert rule["resources"] == ["pods"]
    assert rule["operations"] == ["UPDATE"]


@pytest.mark.parametrize("stage", ["parsing", "ai", "notion"])
def test_a_worker_may_set_its_own_pod_deletion_cost(
    manifests: list[Manifest], policy: Manifest, stage: str
) -> None:
    pod = pod_of(manifests, f"gleaner-worker-{stage}", f"gleaner-worker-{stage}-abc-1")
    assert admitted(policy, request(pod, set_cost("300"))) == (True, [])
    pod["metadata"]["annotations"][COST] = "300"
    assert admitted(policy, request(pod, set_cost("0")))[0]
    # A legacy token that names no pod: still only this release's worker pods.
    assert admitted(policy, request(pod, set_cost("100"), pod_name=None))[0]


def replace_image(pod: dict[str, Any]) -> None:
    pod["spec"]["containers"][0]["image"] = "attacker/image:1"


def add_label(pod: dict[str, Any]) -> None:
    pod["metadata"]["labels"]["app.kubernetes.io/component"] = "api"


def drop_annotation(pod: dict[str, Any]) -> None:
    pod["metadata"]["annotations"].pop("checksum/config")


def other_annotation(pod: dict[str, Any]) -> None:
    pod["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] = "now"


def add_finalizer(pod: dict[str, Any]) -> None:
    pod["metadata"]["finalizers"] = ["example.com/hold"]


def cost_and_image(pod: dict[str, Any]) -> None:
    set_cost("5")(pod)
    replace_image(pod)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (replace_image, "change only the controller.kubernetes.io/pod-deletion-cost"),
        (cost_and_image, "change only the controller.kubernetes.io/pod-deletion-cost"),
        (add_label, "change only the controller.kubernetes.io/pod-deletion-cost"),
        (drop_annotation, "change only the controller.kubernetes.io/pod-deletion-cost"),
        (
            other_annotation,
            "change only the controller.kubernetes.io/pod-deletion-cost",
        ),
        (add_finalizer, "change only the controller.kubernetes.io/pod-deletion-cost"),
        (set_cost("lots"), "must be an integer"),
    ],
    ids=[
        "image",
        "cost+image",
        "label",
        "drop-annotation",
        "other-annotation",
        "finalizer",
        "not-int",
    ],
)
def test_a_worker_may_change_nothing_else_on_its_pod(
    manifests: list[Manifest], policy: Manifest, change: Any, message: str
) -> None:
    pod = pod_of(manifests, "gleaner-worker-parsing", "gleaner-worker-parsing-abc-1")
    allowed, failed = admitted(policy, request(pod, change))
    assert not allowed
    assert any(message in m for m in failed), failed


def test_a_worker_may_not_touch_other_pods(
    manifests: list[Manifest], policy: Manifest
) -> None:
    # The API pod (what a dry run as the parsing worker's account once replaced the image of).
    api = pod_of(manifests, "gleaner-api", "gleaner-api-abc-1")
    allowed, failed = admitted(
        policy, request(api, set_cost("1"), pod_name="gleaner-worker-parsing-abc-1")
    )
    assert not allowed
    assert any("this release's worker pods" in m for m in failed)
    # Another worker's pod, from a token bound to a parsing pod.
    ai = pod_of(manifests, "gleaner-worker-ai", "gleaner-worker-ai-abc-1")
    allowed, failed = admitted(
        policy, request(ai, set_cost("1"), pod_name="gleaner-worker-parsing-abc-1")
    )
    assert not allowed
    assert failed == ["a worker may only annotate its own pod"]
    # A worker pod of another release in the namespace.
    other = pod_of(manifests, "gleaner-worker-ai", "other-worker-ai-1")
    other["metadata"]["labels"]["app.kubernetes.io/instance"] = "other"
    assert not admitted(policy, request(other, set_cost("1")))[0]


def test_other_accounts_are_not_restricted(
    manifests: list[Manifest], policy: Manifest
) -> None:
    pod = pod_of(manifests, "gleaner-worker-parsing", "gleaner-worker-parsing-abc-1")
    controller = "system:serviceaccount:kube-system:replicaset-controller"
    assert admitted(
        policy, request(pod, replace_image, username=controller, pod_name=None)
    ) == (True, [])
    other_ns = "system:serviceaccount:elsewhere:gleaner-worker"
    assert admitted(
        policy, request(pod, replace_image, username=other_ns, pod_name=None)
    )[0]


@pytest.mark.parametrize(
    "args",
    [
        ("--kube-version", "1.29.0"),
        ("--set", "workerDefaults.podDeletionCost=off"),
        ("--set", "rbac.create=false"),
        ("--set", "rbac.podDeletionCostPolicy=false"),
    ],
    ids=["before-1.30", "cost-off", "no-rbac", "policy-off"],
)
def test_no_policy_where_it_cannot_or_need_not_exist(args: tuple[str, ...]) -> None:
    text = run_helm(
        "template", "gleaner", str(CHART), "--namespace", "gleaner", *args
    ).stdout
    assert "ValidatingAdmissionPolicy" not in text
