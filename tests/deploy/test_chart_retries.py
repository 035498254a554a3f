"""The chart's retry strategies and low-lane guard reach every process as GLEANER_* settings."""

from __future__ import annotations

from typing import Any

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


def test_the_reconciler_may_reach_public_webhook_receivers_only() -> None:
    def reconciler_egress(values: dict[str, str]) -> list[dict[str, Any]]:
        policy = by_name(
            render({"networkPolicy.enabled": "true", **values}),
            "NetworkPolicy",
            "gleaner-reconciler",
        )
        return [
            rule
            for rule in policy["spec"]["egress"]
            if any("ipBlock" in peer for peer in rule.get("to", []))
        ]

    [rule] = reconciler_egress({})
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
    v4 = rule["to"][0]["ipBlock"]
    assert v4["cidr"] == "0.0.0.0/0"
    assert {"10.0.0.0/8", "169.254.0.0/16", "127.0.0.0/8"} <= set(v4["except"])
    assert reconciler_egress({"reconciler.webhookPorts": "null"}) == []
    config = _config(render({"reconciler.webhookPorts": "{443,8443}"}))
    assert config["GLEANER_WEBHOOK_ALLOWED_PORTS"] == "443,8443"
