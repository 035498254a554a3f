"""Every install path converges on an empty cluster, and a same-values upgrade changes no object.

- The migration Job is an ordinary object on install (a post-install hook would run only after `--wait`,
  which waits for pods that need the schema), and on every render with useHelmHooks false (GitOps);
  with useHelmHooks an upgrade migrates in a pre-upgrade hook.
- Every pod that uses the database waits for the schema in an init container (the command itself is
  tested as a real process in test_schema_wait.py).
- Nothing in the rendered objects derives from a random draw: install and upgrade renders, which draw
  different random Secrets (lookup finds the stored one only on a live upgrade), differ in those Secrets
  only.
"""

from __future__ import annotations

import pytest
import yaml

from tests.deploy.chart import CHART, STAGES, Manifest, jp, of_kind, run_helm


def render_release(*args: str, upgrade: bool = False) -> list[Manifest]:
    flags = ["--is-upgrade"] if upgrade else []
    text = run_helm(
        "template", "gleaner", str(CHART), "--namespace", "gleaner", *flags, *args
    ).stdout
    return [doc for doc in yaml.safe_load_all(text) if doc]


def migrate_jobs(manifests: list[Manifest]) -> list[Manifest]:
    return [
        m
        for m in of_kind(manifests, "Job")
        if m["metadata"]["labels"]["app.kubernetes.io/component"] == "migrate"
    ]


def database_pods(manifests: list[Manifest]) -> dict[str, Manifest]:
    """Pod specs of everything that uses the database but the migration Job."""
    pods = {
        f"Deployment/{m['metadata']['name']}": m["spec"]["template"]["spec"]
        for m in of_kind(manifests, "Deployment")
    }
    pods |= {
        f"CronJob/{m['metadata']['name']}": jp("spec.jobTemplate.spec.template.spec", m)
        for m in of_kind(manifests, "CronJob")
    }
    return pods


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--set", "migrations.useHelmHooks=true"),
        (
            "--set",
            "postgresql.enabled=false",
            "--set",
            "database.external.existingSecret=db",
        ),
    ],
    ids=["defaults", "hooks", "external-db"],
)
def test_install_migrates_in_an_ordinary_job_and_pods_wait_for_the_schema(
    args: tuple[str, ...],
) -> None:
    manifests = render_release(*args)
    (job,) = migrate_jobs(manifests)
    assert "helm.sh/hook" not in job["metadata"].get("annotations", {})
    assert job["metadata"]["name"].startswith("gleaner-migrate-")
    migrate = jp("spec.template.spec", job)
    assert "initContainers" not in migrate
    assert migrate["containers"][0]["command"][-1] == "migrate"
    pods = database_pods(manifests)
    assert set(pods) == {
        "Deployment/gleaner-api",
        "Deployment/gleaner-reconciler",
        "CronJob/gleaner-retention",
    } | {f"Deployment/gleaner-worker-{stage}" for stage in STAGES}
    for name, pod in pods.items():
        (init,) = pod["initContainers"]
        (main,) = pod["containers"]
        assert init["command"] == ["python3", "-m", "gleaner.schema_wait"], name
        # The main container's image (workers have no gleaner_api) and database settings.
        assert init["image"] == main["image"], name
        assert init["envFrom"] == main["envFrom"], name
        db_env = [e for e in main["env"] if e["name"].startswith("GLEANER_DATABASE_")]
        assert db_env, name
        assert all(e in init["env"] for e in db_env), name
        assert init["securityContext"] == main["securityContext"], name


def test_upgrade_with_hooks_migrates_before_the_new_pods() -> None:
    (job,) = migrate_jobs(
        render_release("--set", "migrations.useHelmHooks=true", upgrade=True)
    )
    assert job["metadata"]["name"] == "gleaner-migrate"
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-upgrade"


def test_without_hooks_the_job_is_named_after_its_template() -> None:
    install = migrate_jobs(render_release())[0]["metadata"]["name"]
    assert migrate_jobs(render_release(upgrade=True))[0]["metadata"]["name"] == install
    # A new image must be a new Job: a Job's pod template is immutable.
    newer = render_release("--set", "api.image.tag=0.2.0", upgrade=True)
    assert migrate_jobs(newer)[0]["metadata"]["name"] != install


def test_wait_for_schema_can_be_turned_off() -> None:
    manifests = render_release("--set", "migrations.waitForSchema=false")
    assert all("initContainers" not in pod for pod in database_pods(manifests).values())


def generated(manifest: Manifest) -> bool:
    """A Secret the chart fills with a random value (kept across upgrades through lookup)."""
    annotations = manifest["metadata"].get("annotations", {})
    return bool(
        manifest["kind"] == "Secret"
        and annotations.get("helm.sh/resource-policy") == "keep"
    )


@pytest.mark.parametrize(
    "args",
    [(), ("--set", "api.auth.existingSecret=mine")],
    ids=["generated-key", "existing-key"],
)
def test_a_same_values_upgrade_changes_no_object(args: tuple[str, ...]) -> None:
    install = render_release(*args)
    upgrade = render_release(*args, upgrade=True)
    assert len(install) == len(upgrade)
    secrets = [m for m in install if generated(m)]
    assert secrets  # the PostgreSQL password, and the API key unless existing
    redrawn = {m["metadata"]["name"] for m in secrets}
    for before, after in zip(install, upgrade, strict=True):
        if before["metadata"]["name"] in redrawn and before["kind"] == "Secret":
            # Two random draws (lookup returns the stored value on a live upgrade): the test's premise.
            assert before["data"] != after["data"]
            continue
        assert before == after, f"{before['kind']}/{before['metadata']['name']} changed"
