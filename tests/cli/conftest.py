"""One real stack per module: the `gleaner` command is run as a subprocess against it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import stack as harness
from tests.stack import LocalStack

# the shared stack fixtures (tests.stack): one page server and one stack per module
pages = harness.pages
stack = harness.stack

GLEANER = str(Path(sys.executable).parent / "gleaner")
"""The console script `uv sync` installs from services/api/pyproject.toml."""

CLI_TIMEOUT_SECONDS = 60

Run = Callable[..., subprocess.CompletedProcess[str]]


def run_gleaner(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GLEANER, *args],
        env={**env, "COLUMNS": "200"},  # wide enough that table cells are not folded
        input=stdin,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )


@pytest.fixture(scope="module")
def api_key(stack: LocalStack) -> str:
    """Made by `gleaner keys create`, straight in the stack's database."""
    # an operator key: the overview commands read queues and workers
    result = run_gleaner(stack.env, "keys", "create", "--owner", "alice", "--operator")
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    stack.wait_ready(key)
    return key


@pytest.fixture
def client_env(stack: LocalStack, api_key: str, tmp_path: Path) -> dict[str, str]:
    """What a person's shell has: the API's URL and a key; no config file unless a test writes one."""
    return {
        **stack.env,
        "GLEANER_API_URL": stack.api_url,
        "GLEANER_API_KEY": api_key,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }


@pytest.fixture
def gleaner(client_env: dict[str, str]) -> Run:
    def run(
        *args: str, env: dict[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_gleaner({**client_env, **(env or {})}, *args, stdin=stdin)

    return run
