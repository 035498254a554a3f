"""Each image carries only its own service: its dependency set, then (opt-in) the real images.

1. `uv sync --package <member>` into a fresh environment (what each Dockerfile runs) imports every module
   of the service and finds none of the other stages' libraries installed.
2. With GLEANER_TEST_IMAGES=1 and buildah installed (`make tools-images`), build the four Dockerfiles on the
   local Debian base and smoke-run each image: the API answers /healthz, each worker drains a job in
   burst mode against a private Redis.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis
from rq import Queue

from tests.deploy.chart import ROOT
from tests.servers import free_port

# service dir -> (workspace package, import package)
SERVICES = {
    "api": ("gleaner-api", "gleaner_api"),
    "worker-parsing": ("gleaner-worker-parsing", "gleaner_parsing"),
    "worker-ai": ("gleaner-worker-ai", "gleaner_ai"),
    "worker-notion": ("gleaner-worker-notion", "gleaner_notion"),
}
STAGE_LIBRARIES = {
    "gleaner_parsing": ("trafilatura", "readability", "htmldate", "courlan"),
    "gleaner_ai": ("sumy", "yake", "segtok", "openai"),
    "gleaner_notion": ("notion_client",),
    "gleaner_api": ("fastapi", "uvicorn", "sse_starlette"),
}
DEV_TOOLS = (
    "pytest",
    "mypy",
    "ruff",
    "celery",
    "matplotlib",
    "playwright",
    "kubernetes_validate",
)

# Run inside the synced environment: import every module of the service (its __main__ would start it),
# then report which forbidden packages are installed at all.
PROBE = """
import importlib, importlib.util, json, pkgutil, sys
package, forbidden = sys.argv[1], json.loads(sys.argv[2])
root = importlib.import_module(package)
names = [m.name for m in pkgutil.walk_packages(root.__path__, package + ".") if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
assert importlib.util.find_spec(package + ".__main__") is not None, "no entry point"
print(json.dumps({"imported": len(names), "present": [f for f in forbidden if importlib.util.find_spec(f)]}))
"""


def forbidden_for(package: str) -> list[str]:
    others = [
        lib
        for owner, libs in STAGE_LIBRARIES.items()
        if owner != package
        for lib in (owner, *libs)
    ]
    return [*others, *DEV_TOOLS]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_dependency_set(service: str, tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    member, package = SERVICES[service]
    venv = tmp_path / "venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_NO_PROGRESS": "1"}
    sync = subprocess.run(
        [
            uv,
            "sync",
            "--frozen",
            "--no-default-groups",
            "--no-editable",
            "--package",
            member,
            "--quiet",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert sync.returncode == 0, sync.stderr
    probe = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            PROBE,
            package,
            json.dumps(forbidden_for(package)),
        ],
        cwd=tmp_path,  # not the repo root: nothing may import from the checkout
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["present"] == [], f"{service} image would carry {report['present']}"
    assert report["imported"] >= 1


# --- the real images (opt-in: slow, and needs buildah) -------------------------------------------------
BASE_IMAGE = "localhost/gleaner-base:bookworm"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BUILDAH_ENV = {**os.environ, "STORAGE_DRIVER": "vfs", "BUILDAH_ISOLATION": "chroot"}


def buildah(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["buildah", *args],
        env=BUILDAH_ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def image_builder() -> None:
    if os.environ.get("GLEANER_TEST_IMAGES") != "1":
        pytest.skip(
            "image builds are opt-in (GLEANER_TEST_IMAGES=1, after `make tools-images`): ~4 min"
        )
    if shutil.which("buildah") is None:
        pytest.skip(
            "buildah is not installed: run `make tools-images` (../shared/tools/install-image-builder.sh)"
        )
    if buildah("inspect", "--type", "image", BASE_IMAGE).returncode != 0:
        pytest.skip(
            f"the local base image {BASE_IMAGE} is missing: run `make tools-images`"
        )


def dockerfile_args(service: str) -> list[str]:
    """What `make images` and skaffold pass: the workers share one Dockerfile, built per stage."""
    if service.startswith("worker-"):
        stage = service.removeprefix("worker-")
        return ["-f", "services/worker.Dockerfile", "--build-arg", f"STAGE={stage}"]
    return ["-f", f"services/{service}/Dockerfile"]


@pytest.fixture(scope="module", params=sorted(SERVICES))
def image(
    request: pytest.FixtureRequest, image_builder: None
) -> Iterator[tuple[str, str]]:
    service = request.param
    tag = f"localhost/gleaner-{service}:test"
    ca = ["-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"] if CA_BUNDLE.exists() else []
    build = buildah(
        "bud", "--isolation", "chroot", "--network", "host", *ca, "--build-arg", f"BASE={BASE_IMAGE}",
        *dockerfile_args(service), "-t", tag, str(ROOT),
        timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    yield service, tag
    buildah("rmi", "--force", tag)


def run_in_image(
    tag: str, env: dict[str, str], command: list[str]
) -> tuple[str, subprocess.Popen[str]]:
    container = buildah("from", tag).stdout.strip()
    flags = [f"--env={key}={value}" for key, value in env.items()]
    process = subprocess.Popen(
        [
            "buildah",
            "run",
            "--isolation",
            "chroot",
            "--network",
            "host",
            "--user",
            "65532",
            *flags,
            container,
            "--",
            *command,
        ],
        env=BUILDAH_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return container, process


def image_config(tag: str) -> dict[str, Any]:
    inspect = buildah("inspect", "--type", "image", tag)
    assert inspect.returncode == 0, inspect.stderr
    config: dict[str, Any] = json.loads(inspect.stdout)["OCIv1"]["config"]
    return config


def test_image_smoke_run(
    image: tuple[str, str], redis_url: str, tmp_path: Path
) -> None:
    service, tag = image
    config = image_config(tag)
    assert config["User"] == "65532:65532"
    # buildah run does not apply the image's command: read it, so the smoke run runs what a pod runs.
    command = config["Cmd"]
    if service == "api":
        assert command == ["python3", "-m", "gleaner_api"]
    else:
        # One worker Dockerfile: the command runs the module the STAGE build argument named.
        assert command[:2] == ["python3", "-c"]
        assert (
            f"GLEANER_WORKER_STAGE={service.removeprefix('worker-')}" in config["Env"]
        )
    env = {
        "GLEANER_ENV": "production",
        "GLEANER_REDIS_URL": redis_url,
        "GLEANER_DATABASE_URL": "sqlite:////tmp/gleaner.db",
        "GLEANER_LOG_FORMAT": "console",
    }
    if service == "api":
        port = free_port()
        container, process = run_in_image(
            tag, env, [*command, "serve", "--migrate", "--port", str(port)]
        )
        try:
            assert wait_for_health(f"http://127.0.0.1:{port}/healthz", process), (
                read_output(process)
            )
        finally:
            stop(process)
            buildah("rm", container)
        return
    stage = service.removeprefix("worker-")
    redis = Redis.from_url(redis_url)
    job = Queue(stage, connection=redis).enqueue("json.dumps", {"smoke": stage})
    container, process = run_in_image(tag, env, [*command, "--burst", "--migrate"])
    try:
        process.wait(timeout=180)
    finally:
        stop(process)
        buildah("rm", container)
    job.refresh()  # type: ignore[no-untyped-call]
    assert job.get_status() == "finished", read_output(process)
    assert job.return_value() == json.dumps({"smoke": stage})


def wait_for_health(url: str, process: subprocess.Popen[str]) -> bool:
    for _ in range(120):  # bounded: 60 s
        if process.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    return False


def stop(process: subprocess.Popen[str]) -> None:
    # Only the process group we started (start_new_session): buildah and the service under it.
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)


def read_output(process: subprocess.Popen[str]) -> str:
    if process.stdout is None or process.poll() is None:
        return "(still running)"
    return process.stdout.read()[-4000:]
