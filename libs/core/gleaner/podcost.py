"""Idle pods first on scale-down: each worker pod keeps its pod-deletion-cost annotation current.

When a ReplicaSet scales down it deletes the pods with the lowest `controller.kubernetes.io/pod-deletion-cost`
first. A worker pod marks itself 0 when idle and 100 per running job when busy, so an HPA scale-down takes
idle pods and leaves busy ones to finish. The pod PATCHes only its own metadata (RBAC: `get` and `patch`
on `pods` in its namespace), only when the cost changed, and at most every DEFAULT_MIN_PATCH_SECONDS.

GLEANER_POD_DELETION_COST: `auto` (default) is on inside a pod (service account mounted,
KUBERNETES_SERVICE_HOST set) and off elsewhere; `on` also works outside a cluster through a kubeconfig
(KUBECONFIG), which is how the tests point it at a local server; `off` never calls the API.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import structlog

from gleaner.settings import Settings

log = structlog.get_logger("gleaner.podcost")

ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")

DEFAULT_MIN_PATCH_SECONDS = 5.0
"""Seconds between two PATCHes at least: a busy queue must not turn into API-server load."""

COST_PER_RUNNING_JOB = 100
"""Deletion cost per job the pod is running; an idle pod costs 0 and goes first."""

REQUEST_TIMEOUT_SECONDS = (2.0, 3.0)
"""(connect, read) seconds: the patch runs on the heartbeat thread, which must beat every few seconds."""

UNREACHABLE_BACKOFF_SECONDS = 60.0
"""After the API server could not be reached, wait this long before trying again (a NetworkPolicy may
block it for good; the heartbeat must not keep paying the connect timeout)."""


def is_in_cluster() -> bool:
    return (
        bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        and (SERVICE_ACCOUNT_DIR / "token").exists()
    )


def cost_for(running_jobs: int) -> int:
    return max(0, running_jobs) * COST_PER_RUNNING_JOB


class PodDeletionCost:
    """Keeps one pod's deletion-cost annotation in step with how many jobs it runs."""

    def __init__(
        self,
        api: Any,
        pod: str,
        namespace: str,
        min_interval: float = DEFAULT_MIN_PATCH_SECONDS,
    ) -> None:
        self.api = api  # kubernetes.client.CoreV1Api
        self.pod = pod
        self.namespace = namespace
        self.min_interval = min_interval
        self.reported: int | None = None
        self.last_patch = float("-inf")
        self.disabled = False

    @classmethod
    def from_settings(cls, settings: Settings) -> PodDeletionCost | None:
        """The reporter for this pod, or None when switched off (the default outside a cluster)."""
        mode = settings.POD_DELETION_COST
        in_cluster = is_in_cluster()
        if mode == "off" or (mode == "auto" and not in_cluster):
            return None
        namespace = settings.POD_NAMESPACE or _mounted_namespace()
        missing = [
            name
            for name, value in (
                ("GLEANER_POD_NAME", settings.POD_NAME),
                ("GLEANER_POD_NAMESPACE", namespace),
            )
            if not value
        ]
        if missing:
            if mode == "on":
                raise SystemExit(
                    f"GLEANER_POD_DELETION_COST=on needs {' and '.join(missing)} (the downward API)"
                )
            log.warning("pod_deletion_cost_off", reason=f"{', '.join(missing)} not set")
            return None
        from kubernetes import client, config

        configuration = client.Configuration()
        configuration.retries = (
            0  # one try per report, bounded by REQUEST_TIMEOUT_SECONDS
        )
        if in_cluster:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            # read KUBECONFIG now: the client reads it once, at import
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=os.environ.get("KUBECONFIG"),
                client_configuration=configuration,
            )
        return cls(
            client.CoreV1Api(client.ApiClient(configuration)),
            settings.POD_NAME,
            namespace,
        )

    def report(self, running_jobs: int, *, force: bool = False) -> bool:
        """Patch the annotation if the cost changed and the last patch is old enough; True if patched."""
        cost = cost_for(running_jobs)
        if self.disabled or cost == self.reported:
            return False
        if not force and time.monotonic() - self.last_patch < self.min_interval:
            return False  # the next report after the interval carries the change
        self.last_patch = time.monotonic()
        if self.patch(cost):
            self.reported = cost
            return True
        return False

    def patch(self, cost: int) -> bool:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        body = {"metadata": {"annotations": {ANNOTATION: str(cost)}}}
        try:
            self.api.patch_namespaced_pod(
                self.pod,
                self.namespace,
                body,
                _content_type="application/merge-patch+json",
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except ApiException as exc:
            if exc.status in (401, 403, 404):
                # RBAC missing or the pod is not ours to patch: say so once, and stop asking.
                self.disabled = True
                log.error(
                    "pod_deletion_cost_disabled",
                    status=exc.status,
                    reason=exc.reason,
                    pod=self.pod,
                    body=exc.body,
                )
            else:
                log.warning(
                    "pod_deletion_cost_patch_failed",
                    status=exc.status,
                    reason=exc.reason,
                )
            return False
        except (HTTPError, OSError) as exc:
            log.warning("pod_deletion_cost_patch_failed", error=str(exc))
            self.last_patch = time.monotonic() + UNREACHABLE_BACKOFF_SECONDS
            return False
        log.debug("pod_deletion_cost_patched", pod=self.pod, cost=cost)
        return True


def _mounted_namespace() -> str:
    try:
        return (SERVICE_ACCOUNT_DIR / "namespace").read_text().strip()
    except OSError:
        return ""
