"""The autoscaling queries, filled in for one release as the chart does, see only that release: promtool
evaluates them (`promql_expr_test`) over the series of three releases that one Prometheus scrapes. The
alert rules' second-release cases are in rules_test.yaml."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.observability.prometheus import binary
from tests.observability.test_prometheus import QUERIES_FILE

# (namespace, release) -> backlog of each stage; two API replicas each export the same gauges.
RELEASES = {
    ("gleaner", "gleaner"): {"parsing": 7, "ai": 2, "notion": 0},
    ("gleaner", "other"): {"parsing": 900, "ai": 50, "notion": 40},  # same namespace
    ("team-b", "gleaner"): {"parsing": 300, "ai": 30, "notion": 3},  # same release name
}


def fill(query: str, namespace: str, release: str) -> str:
    """What templates/workers/scaledobject.yaml does (and the adapter's <<.LabelMatchers>> amounts to)."""
    return query.replace("${namespace}", namespace).replace("${release}", release)


def test_each_release_scales_on_its_own_backlog_only(tmp_path: Path) -> None:
    queries: dict[str, str] = yaml.safe_load(QUERIES_FILE.read_text())
    series = [
        {
            "series": (
                f'gleaner_queue_backlog_jobs{{namespace="{ns}",gleaner_release="{rel}",'
                f'job="{rel}-gleaner-api",instance="{rel}-{ns}-{replica}",queue="{stage}"}}'
            ),
            "values": f"{backlog}x5",
        }
        for (ns, rel), backlogs in RELEASES.items()
        for stage, backlog in backlogs.items()
        for replica in (0, 1)
    ]
    expr_tests = [
        {
            "expr": fill(query, ns, rel),
            "eval_time": "3m",
            "exp_samples": [
                {"labels": f'{{queue="{stage}"}}', "value": backlogs[stage]}
            ],
        }
        for (ns, rel), backlogs in RELEASES.items()
        for stage, query in queries.items()
    ]
    assert len(expr_tests) == 9
    test_file = tmp_path / "release_scope_test.yaml"
    test_file.write_text(
        yaml.safe_dump(
            {
                "evaluation_interval": "1m",
                "tests": [
                    {
                        "name": "three releases in one Prometheus",
                        "interval": "1m",
                        "input_series": series,
                        "promql_expr_test": expr_tests,
                    }
                ],
            }
        )
    )
    result = subprocess.run(
        [binary("promtool"), "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
