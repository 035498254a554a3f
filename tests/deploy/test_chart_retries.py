"""The chart's retry strategies and low-lane guard reach every process as GLEANER_* settings."""

from __future__ import annotations

import pytest

from gleaner.settings import Settings
from tests.deploy.chart import Manifest, by_name, render, render_error


def _config(manifests: list[Manifest]) -> dict[str, str]:
    return by_name(manifests, "ConfigMap", "gleaner-config")["data"]  # type: ignore[no-any-return]


def test_defaults_are_the_python_defaults() -> None:
    data = _config(render())
    python = Settings(_env_file=None)
    for stage in ("parsing", "ai", "notion"):
        prefix = f"GLEANER_{stage.upper()}"
        assert data[f"{prefix}_RETRY_DELAYS"] == ",".join(
            str(d) for d in python.retry_delays(stage)
        )
        assert data[f"{prefix}_MAX_ATTEMPTS"] == "3"
        assert data[f"{prefix}_RETRY_BACKOFF"] == "fixed"
        assert data[f"{prefix}_RETRY_ON"] == ""


def test_a_stage_overrides_its_strategy_and_settings_accept_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = _config(
        render(
            {
                "workers.notion.retry.backoff": "exponential",
                "workers.notion.retry.baseSeconds": "5",
                "workers.notion.retry.retryOn": "{http_429,http_529}",
            }
        )
    )
    assert data["GLEANER_NOTION_RETRY_BACKOFF"] == "exponential"
    assert data["GLEANER_PARSING_RETRY_BACKOFF"] == "fixed"
    for key, value in data.items():
        if key.startswith("GLEANER_"):
            monkeypatch.setenv(key, value)  # as the pod's envFrom would
    settings = Settings(_env_file=None)
    assert settings.NOTION_RETRY_ON == ["http_429", "http_529"]
    assert settings.NOTION_RETRY_BASE_SECONDS == 5


def test_bad_backoff_is_refused_by_the_schema() -> None:
    assert "backoff" in render_error({"workers.ai.retry.backoff": "linear"})


def test_workers_get_the_low_lane_guard() -> None:
    deployment = by_name(
        render({"workers.ai.lowLaneEvery": "4"}), "Deployment", "gleaner-worker-ai"
    )
    env = {
        e["name"]: e.get("value")
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["GLEANER_WORKER_LOW_LANE_EVERY"] == "4"
