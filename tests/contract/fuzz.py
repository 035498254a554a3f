"""Drive schemathesis against a live stack; run inside the test's network namespace.

`python -m tests.contract.fuzz --workdir DIR --report FILE [--max-examples N] [--seed N]` starts the
stack of tests.stack (a private Redis, a migrated SQLite file, the API and a worker per stage), makes
two tenants' keys (alice and bob, peers that must not see each other's objects) and an operator key,
runs `schemathesis run` over /openapi.json with every check and every phase (examples, coverage,
fuzzing, stateful), and writes schemathesis's JSON report to FILE. Its exit code is schemathesis's.

Everything it starts binds to 127.0.0.1 in the namespace the caller made, so the URLs the fuzzer
invents (pages, model endpoints, webhooks) cannot leave the machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from gleaner.aimodels import create_operator_model, default_model
from gleaner.apikeys import create_api_key
from gleaner.db import make_engine, make_sessionmaker, session_scope
from tests.stack import LocalStack, PageServer

PEERS = ("alice", "bob")

HOOKS = "tests.contract.hooks"
"""The custom checks (`SCHEMATHESIS_HOOKS`)."""

STACK_START_SECONDS = 240.0
"""Imports alone took over 60 s on this 2-core machine under a load of 20."""

REQUEST_TIMEOUT_SECONDS = 20.0
"""A task's event stream ends when the task does; the fuzzer's tasks fail fast (no network)."""


def make_keys(db_url: str) -> dict[str, str]:
    """A key per peer and one operator key; an operator default AI model so `ai` stages can run."""
    sessions = make_sessionmaker(make_engine(db_url))
    keys = {}
    with session_scope(sessions) as session:
        for owner in PEERS:
            keys[owner] = create_api_key(session, owner, owner)[1]
        keys["operator"] = create_api_key(session, "ops", "ops", operator=True)[1]
        if default_model(session, PEERS[0]) is None:
            create_operator_model(
                session, name="offline", provider="offline", is_default=True
            )
    return keys


def write_config(workdir: Path, keys: dict[str, str]) -> Path:
    """The WFC auth document (two peers) and schemathesis.toml."""
    auth = workdir / "auth.json"
    auth.write_text(
        json.dumps(
            {
                "auth": [
                    {
                        "name": owner,
                        "fixedHeaders": [
                            {"name": "Authorization", "value": f"Bearer {keys[owner]}"}
                        ],
                    }
                    for owner in PEERS
                ]
            }
        )
    )
    config = workdir / "schemathesis.toml"
    config.write_text(
        "\n".join(
            [
                f"request-timeout = {REQUEST_TIMEOUT_SECONDS}",
                "",
                "[auth.wfc]",
                f'path = "{auth}"',
                f"peers = {json.dumps(list(PEERS))}",
                "",
                # A schema-valid request may be refused only with a documented status and code: the
                # documented 422s (a URL that is not public, an unknown time zone…) are checked by
                # tests.contract.hooks, which fails any positive case refused as a plain validation error.
                "[checks.positive_data_acceptance]",
                'expected-statuses = ["2xx", "401", "403", "404", "409", "422"]',
                "",
            ]
        )
    )
    return config


def run_schemathesis(
    url: str,
    config: Path,
    report: Path,
    max_examples: int,
    seed: int,
    env: dict[str, str],
) -> int:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--workers",
        "2",
        "--no-shrink",
        "--generation-database",
        "none",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
    ]
    # In the run's own folder: schemathesis keeps a cache (.schemathesis/) where it runs.
    return subprocess.run(command, env=env, cwd=config.parent, check=False).returncode


READS = {
    "links": ["GET /api/links/{id}", "POST /api/parsing/async/single/{id}"],
    "tasks": [
        "GET /api/tasks/{id}",
        "GET /api/tasks/{id}/events",
        "GET /api/parsing/async/status/{id}",
        "DELETE /api/ai/async/cancel/{id}",
        "POST /api/notion/async/retry/{id}",
    ],
    "schedules": [
        "GET /api/schedules/{id}",
        "POST /api/schedules/{id}/pause",
        "POST /api/schedules/{id}/run",
    ],
    "webhooks": ["GET /api/webhooks/{id}/deliveries"],
}
"""What another tenant tries on each kind of object (reads, and writes that must not reach it)."""

PER_KIND = 25


def listed_ids(client: httpx.Client, kind: str) -> list[int]:
    body = client.get(f"/api/{kind}", params={"page_size": PER_KIND}).json()
    return [int(item["id"]) for item in body["items"]]


def cross_tenant_reads(url: str, keys: dict[str, str]) -> dict[str, Any]:
    """Every object one peer listed, tried with the other peer's key: each answer must be 404."""
    clients = {
        owner: httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {keys[owner]}"}, timeout=30
        )
        for owner in PEERS
    }
    checked, leaks = 0, []
    for owner, other in (PEERS, PEERS[::-1]):
        for kind, requests in READS.items():
            for object_id in listed_ids(clients[owner], kind):
                for request in requests:
                    method, path = request.split(" ")
                    answer = clients[other].request(method, path.format(id=object_id))
                    checked += 1
                    if answer.status_code != 404:
                        leaks.append(
                            f"{other}: {method} {path.format(id=object_id)} "
                            f"of {owner} -> {answer.status_code}"
                        )
        theirs = {
            m["id"]
            for m in clients[owner].get("/api/ai/models").json()
            if m["owner"] == owner
        }
        shown = {m["id"] for m in clients[other].get("/api/ai/models").json()}
        checked += len(theirs)
        leaks += [f"{other} lists {owner}'s AI model {i}" for i in theirs & shown]
    for client in clients.values():
        client.close()
    return {"checked": checked, "leaks": leaks}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--max-examples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    pages = PageServer().start()
    stack = LocalStack(args.workdir, pages).start()
    try:
        keys = make_keys(stack.env["GLEANER_DATABASE_URL"])
        stack.wait_ready(keys["operator"], timeout=STACK_START_SECONDS)
        config = write_config(args.workdir, keys)
        env = {**stack.env, "SCHEMATHESIS_HOOKS": HOOKS}
        raw = args.workdir / "schemathesis.json"
        code = run_schemathesis(
            stack.api_url, config, raw, args.max_examples, args.seed, env
        )
        summary = {
            "schemathesis": json.loads(raw.read_text()) if raw.exists() else {},
            "cross_tenant_reads": cross_tenant_reads(stack.api_url, keys),
        }
        args.report.write_text(json.dumps(summary, indent=1))
        return code
    finally:
        stack.stop()
        pages.stop()


if __name__ == "__main__":
    sys.exit(main())
