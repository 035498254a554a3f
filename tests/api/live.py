"""The API as a real uvicorn process on a free port, for tests that must see it from outside."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT
from tests.servers import free_port, stop_process

START_TIMEOUT_SECONDS = 180.0
"""Imports are slow on a busy 2-core machine (seen: over 60 s under a load of 20)."""


class LiveApi:
    def __init__(
        self, env: dict[str, str], log: Path, args: tuple[str, ...] = ()
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gleaner_api", "serve"]
            + ["--host", "127.0.0.1", "--port", str(self.port), *args],
            env=env,
            cwd=ROOT,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> LiveApi:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            assert self.process.poll() is None, f"the API exited:\n{self.logs()}"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the API did not start:\n{self.logs()}"
            time.sleep(0.1)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        stop_process(self.process)
