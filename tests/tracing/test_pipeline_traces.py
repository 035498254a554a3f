"""One trace per link, through real processes: the API, a worker per stage, the reconciler.

Spans arrive at a real OTLP/HTTP receiver (tests/tracing/otlp.py) from the SDK's own exporter; the
pages are local, Notion is the local Notion server. The structure asserted is the one a user sees in a
tracing UI: per link a root, then enqueue → process for each stage, each process the parent of the
next enqueue, with the HTTP, SQL and Redis calls inside the process spans.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import StartWorker
from tests.notion.notion_server import Fault, NotionServer
from tests.parsing.server import PageServer
from tests.tracing.conftest import StartApi, submit, wait_finished
from tests.tracing.otlp import OTLPReceiver, Span

TOKEN = "secret_tracing"
PRODUCER, CONSUMER, SERVER, CLIENT = 4, 5, 2, 3


@pytest.fixture
def page_server() -> Iterator[PageServer]:
    server = PageServer().start()
    yield server
    server.stop()


@pytest.fixture
def notion_server() -> Iterator[NotionServer]:
    server = NotionServer(token=TOKEN, rate=50.0, burst=10).start()
    yield server
    server.stop()


def by_trace(spans: list[Span], trace_id: str) -> list[Span]:
    return [span for span in spans if span.trace_id == trace_id]


def one(spans: list[Span], name: str, **where: object) -> Span:
    found = [
        s
        for s in spans
        if s.name == name and all(getattr(s, k) == v for k, v in where.items())
    ]
    assert len(found) == 1, (name, where, [(s.name, s.parent_id) for s in spans])
    return found[0]


def children(spans: list[Span], parent: Span) -> list[Span]:
    return [span for span in spans if span.parent_id == parent.span_id]


def within(spans: list[Span], run: Span) -> list[Span]:
    """Every span under `run`, down to (not into) the next stage's run."""
    found = children(spans, run)
    for span in list(found):
        if not span.name.startswith("process "):
            found += within(spans, span)
    return found


def test_each_link_is_one_trace_from_request_to_notion_retries_included(
    test_env: dict[str, str],
    otel_env: dict[str, str],
    receiver: OTLPReceiver,
    page_server: PageServer,
    notion_server: NotionServer,
    api_key: str,
    start_api: StartApi,
    start_worker: StartWorker,
) -> None:
    database = notion_server.add_database()
    # the first page create is answered 429 with Retry-After: sent again within the same job
    notion_server.fail(
        Fault("POST", r"^/v1/pages$", 429, "rate_limited", retry_after=1)
    )
    fetch_env = {
        "GLEANER_FETCH_ALLOW_NETWORKS": f"127.0.0.1:{page_server.port}",
        "GLEANER_FETCH_TIMEOUT_SECONDS": "5",
    }
    notion_env = {
        "GLEANER_NOTION_TOKEN": TOKEN,
        "GLEANER_NOTION_BASE_URL": notion_server.url,
    }
    api = start_api(
        {**otel_env, "GLEANER_TRACE_URL": "http://traces.test/t/{trace_id}"}
    )
    start_worker("parsing", env={**otel_env, **fetch_env})
    start_worker("ai", env=otel_env)
    start_worker("notion", env={**otel_env, **notion_env})

    urls = [
        page_server.url("/news"),
        page_server.url("/blog"),
        page_server.url("/flaky/t"),
    ]
    task_id = submit(api, api_key, urls, notion={"database_id": database.id})
    task = wait_finished(api, api_key, task_id)
    assert task["status"] == "completed", task["items"]
    trace_ids = {item["url"]: item["trace_id"] for item in task["items"]}
    assert len(set(trace_ids.values())) == 3
    assert None not in trace_ids.values()
    # the item views link the trace in the configured tracing UI
    assert {item["trace_url"] for item in task["items"]} == {
        f"http://traces.test/t/{trace_id}" for trace_id in trace_ids.values()
    }

    spans = receiver.wait_for(
        lambda got: all(
            any(s.name == "process notion" and s.trace_id == t for s in got)
            for t in trace_ids.values()
        )
    )
    request = one(spans, "POST /api/pipelines", kind=SERVER)
    assert request.service == "gleaner-api"
    for url, trace_id in trace_ids.items():
        trace = by_trace(spans, trace_id)
        root = one(trace, "create parsing")
        assert root.parent_id == ""
        assert root.kind == PRODUCER
        assert (request.trace_id, request.span_id) in root.links  # back to the request
        parent = root
        for stage in ("parsing", "ai", "notion"):
            enqueue = [
                s for s in children(trace, parent) if s.name == f"enqueue {stage}"
            ]
            assert len(enqueue) == 1, (
                url,
                stage,
                [s.name for s in children(trace, parent)],
            )
            assert enqueue[0].kind == PRODUCER
            assert enqueue[0].attributes["messaging.destination.name"] == stage
            runs = [
                s for s in children(trace, enqueue[0]) if s.name == f"process {stage}"
            ]
            if stage == "parsing" and "flaky" in url:
                # the 500 made a retry: attempt 1 enqueued attempt 2, in the same trace
                assert len(runs) == 1
                assert runs[0].attributes["gleaner.outcome"] == "retry"
                retry = one(children(trace, runs[0]), "enqueue parsing")
                runs = [
                    s for s in children(trace, retry) if s.name == "process parsing"
                ]
                assert runs[0].attributes["gleaner.attempt"] == 2
            assert len(runs) == 1, (url, stage)
            run = runs[0]
            assert run.kind == CONSUMER
            assert run.service == f"gleaner-worker-{stage}"
            assert run.attributes["gleaner.outcome"] == "completed"
            made_by = next(s for s in trace if s.span_id == run.parent_id)
            assert (
                run.attributes["messaging.message.id"]
                == (made_by.attributes["messaging.message.id"])
            )
            assert "wait " + stage in {s.name for s in children(trace, enqueue[0])}
            # the run's SQL and Redis calls, at any depth: parsing's per-host slot (under `fetch`) and
            # Notion's shared rate limit are Redis; the AI stage's only Redis call, the cancel check,
            # is the claim's for a job this short
            systems = {
                s.attributes.get("db.system.name") or s.attributes.get("db.system")
                for s in within(trace, run)
            }
            expected = {"sqlite"} if stage == "ai" else {"sqlite", "redis"}
            assert expected <= systems, (stage, systems)
            parent = run
        # the guarded fetch: connect, first byte and body as events (each attempt has its own)
        fetches = [s for s in trace if s.name == "fetch"]
        assert len(fetches) == (2 if "flaky" in url else 1)
        assert {"first_byte", "body_received"} <= set(fetches[-1].events)
        assert any(s.name == "extract" for s in trace)
        ai = [s for s in trace if s.attributes.get("gen_ai.operation.name")]
        assert ai
        assert ai[0].attributes["gen_ai.request.model"]
    # a fresh connection says when it was made (a pooled one was made earlier)
    assert any("connected" in s.events for s in spans if s.name == "fetch")
    notion_requests = [
        s
        for s in spans
        if s.service == "gleaner-worker-notion"
        and s.kind == CLIENT
        and s.attributes.get("http.response.status_code") in (200, 429)
    ]
    assert 429 in {s.attributes["http.response.status_code"] for s in notion_requests}
    assert any(s.name == "ratelimit wait" for s in spans)
