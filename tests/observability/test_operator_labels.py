"""Under prometheus-operator every target carries a `service` label (the Kubernetes Service), so Prometheus
renames our metrics' own `service` label to `exported_service` and the Notion alert and panel, which match
service="notion", would see nothing. A real Prometheus scrapes a real metrics endpoint with the target labels
the operator sets, once without and once with the chart's ServiceMonitor metricRelabelings, and evaluates
the chart's own alert expression and dashboard panel."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.exposition import MetricsHandler

from tests.deploy.chart import by_name, render
from tests.observability.prometheus import start_prometheus, stop_prometheus

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "helm/gleaner/files/prometheus-rules.yaml"
DASHBOARD = ROOT / "helm/gleaner/files/dashboards/gleaner.json"
# What the operator puts on the notion worker's target (its Service), plus the chart's relabelings.
OPERATOR_TARGET = {
    "service": "gleaner-worker-notion",
    "namespace": "gleaner",
    "gleaner_release": "gleaner",
    "gleaner_component": "worker-notion",
}


@pytest.fixture(scope="module")
def notion_metrics() -> Iterator[str]:
    """A /metrics endpoint with the notion worker's counter: 40 requests answered 200, 10 with 429."""
    registry = CollectorRegistry()
    requests = Counter(
        "gleaner_external_requests_total",
        "outside requests",
        ["service", "status"],
        registry=registry,
    )
    requests.labels(service="notion", status="200").inc(40)
    requests.labels(service="notion", status="429").inc(10)
    server = ThreadingHTTPServer(("127.0.0.1", 0), MetricsHandler.factory(registry))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def to_prometheus(relabeling: dict[str, Any]) -> dict[str, Any]:
    """A ServiceMonitor relabeling (camelCase) as the operator writes it into Prometheus's config."""
    return {
        re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), k): v
        for k, v in relabeling.items()
    }


def chart_metric_relabelings() -> list[dict[str, Any]]:
    monitor = by_name(
        render(api_versions=("monitoring.coreos.com/v1",)),
        "ServiceMonitor",
        "gleaner-worker-notion",
    )
    return [
        to_prometheus(r) for r in monitor["spec"]["endpoints"][0]["metricRelabelings"]
    ]


def notion_alert_ratio() -> str:
    """GleanerNotionRateLimited's expression without its `> 0.05` threshold: the ratio itself."""
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == "GleanerNotionRateLimited":
                return (
                    str(rule["expr"]).strip().rsplit(">", 1)[0].replace("[5m]", "[1m]")
                )
    raise AssertionError("GleanerNotionRateLimited is gone from the rules")


def notion_panel_exprs() -> list[str]:
    text = DASHBOARD.read_text()
    exprs = [
        e
        for e in re.findall(r'"expr": "((?:[^"\\]|\\.)*)"', text)
        if 'service=\\"notion\\"' in e
    ]
    assert exprs, "no dashboard panel reads service=notion"
    return [
        json.loads(f'"{e}"')
        .replace("$__rate_interval", "1m")
        .replace("$namespace", "gleaner")
        .replace("$release", "gleaner")
        for e in exprs
    ]


@pytest.mark.parametrize(
    "with_chart_relabelings", [False, True], ids=["plain", "chart"]
)
def test_notion_alert_and_panel_see_the_series_under_the_operator(
    notion_metrics: str, tmp_path: Path, with_chart_relabelings: bool
) -> None:
    server = start_prometheus(
        tmp_path,
        {"gleaner-worker-notion": [notion_metrics]},
        labels=OPERATOR_TARGET,
        metric_relabel_configs=chart_metric_relabelings()
        if with_chart_relabelings
        else (),
    )
    try:
        server.wait_for(
            'count(gleaner_external_requests_total{gleaner_release="gleaner"})', 2.0
        )
        by_service = server.query(
            'count(gleaner_external_requests_total{service="notion"})'
        )
        if not with_chart_relabelings:
            # The failure this guards against: the label moved and service= matches nothing.
            assert by_service == []
            assert (
                server.value(
                    'count(gleaner_external_requests_total{exported_service="notion"})'
                )
                == 2.0
            )
            return
        assert (
            server.value('count(gleaner_external_requests_total{service="notion"})')
            == 2.0
        )
        assert (
            server.query('count(gleaner_external_requests_total{exported_service!=""})')
            == []
        )
        # Counters need two samples for rate(): wait for the alert's ratio (flat counters give 0/0 = NaN,
        # so check that it returns a series at all) and for each Notion panel.
        server.wait_for(f"count({notion_alert_ratio()})", 1.0)
        for expr in notion_panel_exprs():
            server.wait_for(f"count({expr.split(' / ')[0]})", 1.0)
    finally:
        stop_prometheus(server)
