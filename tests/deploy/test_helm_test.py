"""`helm test`: the chart's test hook runs files/helm-test.py with the API image. The render is checked
here, and the script itself runs as a real process against a real API (SQLite + Redis): it passes with
the release's key and fails, saying which check, with a wrong one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.live import LiveApi
from tests.deploy.chart import CHART, STAGES, by_name, render

SCRIPT = CHART / "files" / "helm-test.py"
KEY = "gleaner-test-key-0123456789abcdef"


def test_the_test_hook_reaches_the_api_service_with_the_release_key() -> None:
    manifests = render()
    pod = by_name(manifests, "Pod", "gleaner-test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    assert container["command"][:2] == ["python3", "-c"]
    assert container["command"][2] == SCRIPT.read_text()
    env = {e["name"]: e for e in container["env"]}
    service = by_name(manifests, "Service", "gleaner-api")
    port = service["spec"]["ports"][0]["port"]
    assert env["GLEANER_TEST_URL"]["value"] == f"http://gleaner-api:{port}"
    api = by_name(manifests, "Deployment", "gleaner-api")["spec"]["template"]["spec"]
    api_key = [
        e
        for e in api["containers"][0]["env"]
        if e["name"] == "GLEANER_BOOTSTRAP_API_KEY"
    ]
    assert env["GLEANER_TEST_API_KEY"]["valueFrom"] == api_key[0]["valueFrom"]
    assert env["GLEANER_TEST_STAGES"]["value"] == ",".join(sorted(STAGES))
    assert pod["spec"]["automountServiceAccountToken"] is False


@pytest.fixture
def live_api(test_env: dict[str, str], tmp_path: Path) -> Iterator[LiveApi]:
    env = {**os.environ, **test_env, "GLEANER_BOOTSTRAP_API_KEY": KEY}
    api = LiveApi(env, tmp_path / "api.log")
    try:
        yield api.wait_ready()
    finally:
        api.stop()


def run_script(url: str, key: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GLEANER_TEST_URL": url,
        "GLEANER_TEST_API_KEY": key,
        "GLEANER_TEST_STAGES": ",".join(STAGES),
    }
    return subprocess.run(
        [sys.executable, "-I", "-c", SCRIPT.read_text()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_test_script_passes_on_a_working_api_and_fails_on_a_wrong_key(
    live_api: LiveApi,
) -> None:
    passed = run_script(live_api.url, KEY)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.count("ok   ") == 4 + len(STAGES), passed.stdout
    failed = run_script(live_api.url, "not-the-key")
    assert failed.returncode == 1
    assert "FAIL GET /api/tasks with the release's API key" in failed.stdout
