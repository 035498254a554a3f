"""The dashboard and alert rules pass their checkers, and every gleaner_ metric they name exists on the
real /metrics of a worker process and of the API's registry (a real API process)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gleaner.runtime import Runtime
from tests.factories import submit_task
from tests.observability.prometheus import binary
from tests.observability.scrape import scrape
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
SHARED_TOOLS = ROOT.parent / "shared" / "tools"
DASHBOARD = ROOT / "helm/gleaner/files/dashboards/gleaner.json"
RULES = ROOT / "helm/gleaner/files/prometheus-rules.yaml"
RULE_TESTS = Path(__file__).parent / "rules_test.yaml"
DASHCHECK = ROOT / ".tools/dashcheck"

# Series per pod we accept: labels are bounded, so this only grows when someone adds a label by mistake.
MAX_SERIES_PER_POD = 250


def dashboard_exprs() -> list[str]:
    def walk(node: object) -> list[str]:
        if isinstance(node, dict):
            found = [node["expr"]] if isinstance(node.get("expr"), str) else []
            return found + [e for value in node.values() for e in walk(value)]
        if isinstance(node, list):
            return [e for value in node for e in walk(value)]
        return []

    return walk(json.loads(DASHBOARD.read_text()))


def rule_exprs() -> list[str]:
    return [
        rule["expr"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
    ]


# Labels the chart's ServiceMonitors add to every target (release scoping), not metrics.
TARGET_LABELS = {"gleaner_release", "gleaner_component"}


def named_metrics(exprs: list[str]) -> set[str]:
    names = {
        name for expr in exprs for name in re.findall(r"\bgleaner_[a-z_]+\b", expr)
    }
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in names - TARGET_LABELS}


def families(text: str) -> dict[str, int]:
    """family name (as exposed, counters with _total) → samples."""
    found: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        name = family.name + "_total" if family.type == "counter" else family.name
        found[name] = len(family.samples)
    return found


def completed(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "gleaner_stage_items_total"
        and sample.labels.get("outcome") == "completed"
    )


def run(*command: str | Path, cwd: Path = ROOT) -> None:
    result = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


class TestRules:
    def test_promtool_checks_the_rules(self) -> None:
        run(binary("promtool"), "check", "rules", RULES)

    def test_promtool_unit_tests_pass(self) -> None:
        run(binary("promtool"), "test", "rules", RULE_TESTS)

    def test_every_alert_has_a_firing_case(self) -> None:
        alerts = {
            rule["alert"]
            for group in yaml.safe_load(RULES.read_text())["groups"]
            for rule in group["rules"]
        }
        tested = {
            case["alertname"]
            for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
            for case in test.get("alert_rule_test", [])
            if case.get("exp_alerts")
        }
        assert alerts == tested


class TestDashboard:
    def test_grafana_schema_accepts_it(self) -> None:
        if not (DASHCHECK / "node_modules").exists() or shutil.which("node") is None:
            pytest.skip(
                "dashboard checker not installed: run `make tools-observability`"
            )
        run("node", SHARED_TOOLS / "check-dashboards.mjs", DASHBOARD, cwd=DASHCHECK)

    def test_promtool_parses_every_expr(self) -> None:
        binary("promtool")
        run("python", SHARED_TOOLS / "dash_promql_check.py", DASHBOARD)

    def test_it_shows_what_the_issue_asks_for(self) -> None:
        exprs = "\n".join(dashboard_exprs())
        for needle in (
            "gleaner_queue_backlog_jobs",
            'state=~"waiting|running"',
            "gleaner_queue_oldest_job_age_seconds",
            "gleaner_stage_items_total",
            'outcome="failed"',
            "histogram_quantile(0.5, sum by (stage, le) (rate(gleaner_stage_duration_seconds_bucket",
            "histogram_quantile(0.95, sum by (stage, le) (rate(gleaner_stage_duration_seconds_bucket",
            "kube_deployment_status_replicas",
            'service="notion"',
        ):
            assert needle in exprs, needle
        # queue gauges come from every API replica: never summed
        assert not re.search(r"sum[^()]*\(\s*gleaner_queue_", exprs)

    def test_a_slow_stages_exemplar_links_to_its_trace(self) -> None:
        dashboard = json.loads(DASHBOARD.read_text())
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["tracing"]["type"] == "datasource"
        (panel,) = [
            p
            for p in dashboard["panels"]
            if any(
                "gleaner_stage_duration_seconds_bucket" in t.get("expr", "")
                for t in p.get("targets", [])
            )
        ]
        assert all(t.get("exemplar") for t in panel["targets"])
        links = [
            link
            for override in panel["fieldConfig"]["overrides"]
            if override["matcher"] == {"id": "byName", "options": "trace_id"}
            for prop in override["properties"]
            for link in prop["value"]
        ]
        assert links[0]["internal"]["datasourceUid"] == "${tracing}"
        assert links[0]["internal"]["query"]["query"] == "${__value.raw}"


def test_every_metric_named_exists_on_real_metrics_endpoints(
    runtime: Runtime,
    start_worker: Callable[..., Popen[bytes]],
    start_api: Callable[[], int],
) -> None:
    port = free_port()
    start_worker("parsing", env={"GLEANER_WORKER_METRICS_PORT": str(port)})
    submit_task(
        runtime,
        urls=["https://example.com/1", "https://example.com/2"],
        job_path="tests.jobs.succeed",
    )
    deadline = time.monotonic() + 30
    while completed(scrape(port)) < 2:  # the worker has run both items
        assert time.monotonic() < deadline, "the worker did not run the items"
        time.sleep(0.1)
    worker = families(scrape(port))
    api = families(scrape(start_api()))
    exposed = {**worker, **api}

    named = named_metrics(dashboard_exprs() + rule_exprs())
    missing = {name for name in named if name not in exposed}
    assert not missing, (
        f"named by the dashboard or rules but not exported: {sorted(missing)}"
    )
    # the ones a drained queue must have filled in, not only declared
    for name in (
        "gleaner_stage_items_total",
        "gleaner_stage_duration_seconds",
        "gleaner_stage_queue_wait_seconds",
    ):
        assert worker[name] > 0, name
    for name in named:
        if (
            name.startswith("gleaner_queue_")
            or name == "gleaner_ratelimit_budget_per_second"
        ):
            assert api[name] > 0, name

    series_worker, series_api = sum(worker.values()), sum(api.values())
    print(f"series: worker pod {series_worker}, API registry {series_api}")
    assert series_worker < MAX_SERIES_PER_POD
    assert series_api < MAX_SERIES_PER_POD
