"""Pod deletion cost: the reporter against a local server that answers like the Kubernetes API."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gleaner.podcost import ANNOTATION, PodDeletionCost, cost_for
from gleaner.runtime import Runtime
from gleaner.settings import Settings
from tests.conftest import StartWorker
from tests.core.kube_server import KubeServer
from tests.factories import get_task, submit_task

NAMESPACE = "ns"
POD = "worker-parsing-abc12"


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[KubeServer]:
    server = KubeServer().start()
    server.add_pod(NAMESPACE, POD)
    yield server
    server.stop()


@pytest.fixture
def kube_env(
    kube: KubeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    env = {
        "GLEANER_POD_DELETION_COST": "on",
        "GLEANER_POD_NAME": POD,
        "GLEANER_POD_NAMESPACE": NAMESPACE,
        "KUBECONFIG": str(kube.write_kubeconfig(tmp_path / "kubeconfig")),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return env


def reporter(min_interval: float = 0.0) -> PodDeletionCost:
    built = PodDeletionCost.from_settings(Settings())
    assert built is not None
    built.min_interval = min_interval
    return built


def wait_for(condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.mark.usefixtures("kube_env")
class TestReporter:
    def test_off_outside_a_cluster_by_default(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        monkeypatch.setenv("GLEANER_POD_NAME", POD)
        assert PodDeletionCost.from_settings(Settings(POD_DELETION_COST="auto")) is None
        assert PodDeletionCost.from_settings(Settings(POD_DELETION_COST="off")) is None

    def test_on_without_the_pod_name_exits_naming_it(self) -> None:
        with pytest.raises(SystemExit, match="GLEANER_POD_NAME"):
            PodDeletionCost.from_settings(Settings(POD_NAME=""))

    def test_patches_the_annotation_as_a_merge_patch(self, kube: KubeServer) -> None:
        cost = reporter()
        assert cost.report(2)
        assert kube.annotation(NAMESPACE, POD, ANNOTATION) == str(cost_for(2)) == "200"
        assert cost.report(0)
        assert kube.annotation(NAMESPACE, POD, ANNOTATION) == "0"
        assert [(pod, kind) for pod, kind, _ in kube.patches] == [
            (POD, "application/merge-patch+json")
        ] * 2
        assert kube.patches[0][2] == {"metadata": {"annotations": {ANNOTATION: "200"}}}

    def test_patches_only_on_change_and_not_too_often(self, kube: KubeServer) -> None:
        cost = reporter(min_interval=3600)
        assert cost.report(1)
        assert not cost.report(1)  # unchanged
        assert not cost.report(
            0
        )  # changed, but too soon: the next report after the interval carries it
        assert kube.annotation(NAMESPACE, POD, ANNOTATION) == "100"
        assert cost.report(0, force=True)
        assert len(kube.patches) == 2

    def test_forbidden_turns_it_off_without_failing(self, kube: KubeServer) -> None:
        kube.forbidden.add((NAMESPACE, POD))
        cost = reporter()
        assert not cost.report(1)
        assert cost.disabled
        assert not cost.report(2)  # no more requests once RBAC said no
        assert kube.patches == []

    def test_missing_pod_turns_it_off(
        self,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("GLEANER_POD_NAME", "not-this-pod")
        cost = reporter()
        assert not cost.report(1)
        assert cost.disabled

    def test_unreachable_api_is_retried_later(self, kube: KubeServer) -> None:
        cost = reporter()
        kube.stop()
        assert not cost.report(1)
        assert (
            not cost.disabled
        )  # a network error is not a verdict: try again on the next change window


class TestWorkerPod:
    def test_busy_pod_costs_more_and_idle_pod_goes_back_to_zero(
        self,
        runtime: Runtime,
        kube: KubeServer,
        kube_env: dict[str, str],
        start_worker: StartWorker,
    ) -> None:
        env = {
            **kube_env,
            "GLEANER_WORKER_HEARTBEAT_SECONDS": "1",
            "GLEANER_WORKER_CONCURRENCY": "2",
        }
        task_id = submit_task(
            runtime,
            urls=["https://example.com/1"],
            job_path="tests.jobs.sleep_configured",
            config={"sleep_seconds": 8},
        )
        start_worker("parsing", env=env)
        wait_for(lambda: kube.annotation(NAMESPACE, POD, ANNOTATION) == "100")
        wait_for(lambda: get_task(runtime, task_id).status == "completed")
        wait_for(lambda: kube.annotation(NAMESPACE, POD, ANNOTATION) == "0", 15)
        values = [
            body["metadata"]["annotations"][ANNOTATION] for _, _, body in kube.patches
        ]
        assert values == [
            "100",
            "0",
        ]  # one patch per change, none while nothing changed


def test_an_unreachable_api_server_costs_one_short_try_then_backs_off(
    kube_env: dict[str, str], kube: KubeServer
) -> None:
    """A NetworkPolicy may block the API server: the heartbeat thread must not stall on it."""
    cost = reporter()
    kube.stop()  # nothing listens at the kubeconfig's address any more
    started = time.monotonic()
    assert not cost.report(1)
    assert (
        time.monotonic() - started < 4.0
    )  # one try (retries off), bounded by the timeouts
    started = time.monotonic()
    assert not cost.report(2)  # within the back-off: no connection attempted at all
    assert time.monotonic() - started < 0.5
