"""A real Prometheus server for tests: started on 127.0.0.1 with a scrape config we write, queried
through its HTTP API. Skips the test when the binary is missing (`make tools-observability`)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.servers import free_port, stop_process

SCRAPE_INTERVAL = "1s"


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(
            f"{name} is not installed: run `make tools-observability` (../shared/tools/install-prometheus.sh)"
        )
    return found


@dataclass
class Prometheus:
    process: subprocess.Popen[bytes]
    url: str

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params: dict[str, str | float] = {"query": expr}
        if at is not None:
            params["time"] = at
        return self._get("/api/v1/query", params)

    def query_range(
        self, expr: str, start: float, end: float, step: float = 1.0
    ) -> list[dict[str, Any]]:
        return self._get(
            "/api/v1/query_range",
            {"query": expr, "start": start, "end": end, "step": step},
        )

    def value(self, expr: str) -> float | None:
        """The single value of an instant query, or None when it returns nothing."""
        result = self.query(expr)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, expr: str, expected: float, timeout: float = 30.0) -> None:
        """Poll until `expr` returns exactly one value equal to `expected`; fail after `timeout`."""
        deadline = time.monotonic() + timeout
        last: float | None = None
        while time.monotonic() < deadline:
            last = self.value(expr)
            if last == expected:
                return
            time.sleep(0.25)
        raise AssertionError(f"{expr} stayed {last}, expected {expected}")

    def exemplars(self, expr: str, start: float, end: float) -> list[dict[str, Any]]:
        """/api/v1/query_exemplars: per series, its labels and exemplars ({labels, value, timestamp})."""
        return self._get(
            "/api/v1/query_exemplars", {"query": expr, "start": start, "end": end}
        )

    def _get(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        response = httpx.get(self.url + path, params=params, timeout=10)
        body = response.json()
        assert response.status_code == 200, body
        assert body["status"] == "success", body
        data = body["data"]
        result: list[dict[str, Any]] = (
            data if isinstance(data, list) else data["result"]
        )
        return result


def start_prometheus(
    workdir: Path,
    jobs: dict[str, list[str]],
    labels: dict[str, str] | None = None,
    features: Sequence[str] = (),
    metric_relabel_configs: Sequence[dict[str, Any]] = (),
) -> Prometheus:
    """Prometheus scraping `jobs` (job name → host:port targets) every second, adding `labels` to every
    target (as the chart's ServiceMonitors add namespace and gleaner_release); ready when this returns.
    `features`: names for --enable-feature (e.g. "exemplar-storage"); `metric_relabel_configs` for every job."""
    config = {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "scrape_timeout": SCRAPE_INTERVAL,
            "evaluation_interval": "1s",
        },
        "scrape_configs": [
            {
                "job_name": job,
                "static_configs": [{"targets": targets, "labels": labels or {}}],
                **(
                    {"metric_relabel_configs": list(metric_relabel_configs)}
                    if metric_relabel_configs
                    else {}
                ),
            }
            for job, targets in jobs.items()
        ],
    }
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = open(
        workdir / "prometheus.log", "wb"
    )  # the child writes it; ours closes on exit
    process = subprocess.Popen(
        [
            binary("prometheus"),
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
            *(f"--enable-feature={name}" for name in features),
        ],
        stdout=log,
        stderr=log,
    )
    server = Prometheus(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(server.url + "/-/ready", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(
                f"prometheus did not start: {(workdir / 'prometheus.log').read_text()[-2000:]}"
            )
        time.sleep(0.2)


def stop_prometheus(server: Prometheus) -> None:
    stop_process(server.process)
