"""OpenTelemetry tracing: one trace per item, from the API request through every queue to Notion.

Off unless the standard OTEL_* variables ask for it (`enabled_by`): an exporter endpoint or
`OTEL_TRACES_EXPORTER` set, and `OTEL_SDK_DISABLED` not true. Then the SDK reads every other standard
variable itself — endpoint, headers, timeout, sampler and its ratio, resource attributes, batch sizes —
and `OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL` picks OTLP over HTTP (the default) or gRPC. When off, every
helper here returns at its first line, so the hooks in the runner, the queues and the stages cost nothing.

How an item's trace is carried:
- at submit, each item gets a root span ("create <queue>", linked to the API request) and its W3C
  `traceparent` is stored in SQL (`task_items.traceparent`), in the transaction that creates the item;
- each enqueue is a producer span in that trace; its context goes into the RQ job's meta;
- each job run is a consumer span, child of the enqueue that made the job. A job made without one (the
  reconciler re-issuing after a SIGKILL or a lost Redis, a retry asked for through the API) takes the
  item's traceparent from SQL instead, so a link's retries and re-issues all stay in its one trace.
Orphan client spans (Redis polls and SQL outside any job or request) are dropped by the sampler: they
would each be a trace of their own and say nothing.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler

# The SDK, the exporters and the propagators are imported only when tracing is turned on: a process
# with tracing off does not pay their import time (propagate alone scans every installed entry point).

P = ParamSpec("P")
R = TypeVar("R")

MESSAGING_SYSTEM = "rq"
"""`messaging.system`: semantic conventions list no value for RQ, so its own name, as they advise."""

TRACE_META_KEY = "otel"
"""The RQ job meta key holding the W3C trace context (`traceparent`, `tracestate`) of the enqueue."""

_tracer: trace.Tracer | None = None
"""Set by `setup` when tracing is on; None means off, and every helper returns at once."""

_in_job: ContextVar[bool] = ContextVar("gleaner_in_job", default=False)
"""True inside a job's span: an enqueue there continues the current trace."""


def enabled_by(env: Mapping[str, str]) -> bool:
    """Whether the standard variables turn tracing on: an exporter or an endpoint named, SDK not disabled."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def is_enabled() -> bool:
    return _tracer is not None


def setup(component: str, env: Mapping[str, str] | None = None) -> bool:
    """Start tracing for this process when the environment asks for it; True when on.

    `component` names the service (`gleaner-<component>`) unless OTEL_SERVICE_NAME or
    OTEL_RESOURCE_ATTRIBUTES say otherwise. Instruments SQLAlchemy, Redis and httpx for the process:
    call it before the engine and clients are made. A bad exporter or protocol name ends the process
    with a message naming the variable.
    """
    global _tracer
    env = os.environ if env is None else env
    if _tracer is not None or not enabled_by(env):
        return _tracer is not None
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    try:
        exporter = _exporter(env)
    except ValueError as exc:
        raise SystemExit(f"gleaner: {exc}") from None
    resource = Resource.create({"service.name": f"gleaner-{component}"}).merge(
        OTELResourceDetector().detect()  # the user's OTEL_SERVICE_NAME / attributes win
    )
    provider = TracerProvider(
        resource=resource
    )  # the sampler comes from OTEL_TRACES_SAMPLER
    provider.sampler = drop_orphan_client_spans(provider.sampler)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _instrument_libraries()
    _tracer = trace.get_tracer("gleaner")
    return True


def shutdown() -> None:
    """Export what is buffered (a worker's last spans) before the process exits."""
    provider = trace.get_tracer_provider()
    if _tracer is not None and hasattr(provider, "shutdown"):
        provider.shutdown()


def _exporter(env: Mapping[str, str]) -> SpanExporter:
    name = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        raise ValueError(
            f"OTEL_TRACES_EXPORTER={name!r}: Gleaner ships 'otlp', 'console' and 'none'"
        )
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    # Both exporters read endpoint, headers, timeout, compression and certificates from the environment.
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HTTPExporter,
        )

        return HTTPExporter()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GRPCExporter,
        )

        return GRPCExporter()
    raise ValueError(
        f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: use 'http/protobuf' or 'grpc'"
    )


def _instrument_libraries() -> None:
    # The stable HTTP and database attribute names (http.response.status_code, db.system.name), unless
    # the user chose otherwise; the instrumentations still default to the old ones.
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http,database")
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # its declared range stops below SQLAlchemy 2.1, which it instruments all the same (engine events)
    SQLAlchemyInstrumentor().instrument(skip_dep_check=True)
    RedisInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()


def drop_orphan_client_spans(inner: Sampler) -> Sampler:
    """The configured sampler, except that a client span with no parent is never recorded.

    A worker polls Redis and the reconciler reads SQL all day outside any job: as roots, each call would
    be a one-span trace. Inside a request or a job they have a parent and are sampled as it was.
    """
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
    from opentelemetry.trace import TraceState
    from opentelemetry.util.types import Attributes

    class DropOrphanClientSpans(Sampler):
        def should_sample(
            self,
            parent_context: otel_context.Context | None,
            trace_id: int,
            name: str,
            kind: SpanKind | None = None,
            attributes: Attributes = None,
            links: Sequence[Link] | None = None,
            trace_state: TraceState | None = None,
        ) -> SamplingResult:
            parent = trace.get_current_span(parent_context).get_span_context()
            if kind == SpanKind.CLIENT and not parent.is_valid:
                return SamplingResult(Decision.DROP)
            return inner.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return f"DropOrphanClientSpans{{{inner.get_description()}}}"

    return DropOrphanClientSpans()


# --- carrying a trace: SQL (an item's root) and RQ job meta (an enqueue) -------------------------------


def traceparent(span_context: trace.SpanContext) -> str:
    """The W3C traceparent header value of a span context."""
    return f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-{int(span_context.trace_flags):02x}"


def _context_of(parent: str | None) -> otel_context.Context | None:
    if not parent:
        return None
    from opentelemetry import propagate

    return propagate.extract({"traceparent": parent})


def sampled_trace_id(parent: str | None) -> str | None:
    """The trace id of a stored traceparent whose trace was sampled (recorded), else None.

    Read from SQL, so it works in a process with tracing off (the API behind a collector-less setup).
    """
    if not parent:
        return None
    parts = parent.split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or not int(parts[3], 16) & 1:
        return None
    return parts[1]


def start_item_trace(queue: str, task_id: int, item_id: int) -> str | None:
    """A new trace for one item: its root span, linked to the request that made it; the traceparent to store.

    One trace per link rather than one per request: a batch of a thousand links would otherwise be
    one unreadable trace, and a link retried next week would join a request long gone.
    """
    if _tracer is None:
        return None
    request = trace.get_current_span().get_span_context()
    span = _tracer.start_span(
        f"create {queue}",
        context=otel_context.Context(),  # a root
        kind=SpanKind.PRODUCER,
        links=[Link(request)] if request.is_valid else None,
        attributes={
            "messaging.system": MESSAGING_SYSTEM,
            "messaging.operation.type": "create",
            "messaging.operation.name": "create",
            "messaging.destination.name": queue,
            "gleaner.task_id": task_id,
            "gleaner.item_id": item_id,
        },
    )
    span.end()
    return traceparent(span.get_span_context())


def publish_meta(
    queue: str,
    job_id: str,
    item_id: int,
    item_trace: str | None,
    delay: float = 0.0,
) -> dict[str, Any]:
    """The enqueue's producer span; returns the job meta entries that carry its context ({} when off).

    Its parent is the running job's span when that job is in the item's trace (a worker moving its item
    on or retrying it), else the item's root (the API; a job releasing a dependent task's items).
    Without either — the reconciler, an API retry — nothing is added, and the job's run takes the
    item's trace from SQL.
    """
    if _tracer is None:
        return {}
    current = trace.get_current_span().get_span_context()
    if item_trace and not (
        _in_job.get() and f"{current.trace_id:032x}" == item_trace.split("-")[1]
    ):
        parent = _context_of(
            item_trace
        )  # the API, or a job releasing another task's items
    elif _in_job.get():
        parent = None  # the current context: this item's job span
    else:
        return {}
    with _tracer.start_as_current_span(
        f"enqueue {queue}",
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": MESSAGING_SYSTEM,
            "messaging.operation.type": "send",
            "messaging.operation.name": "enqueue",
            "messaging.destination.name": queue,
            "messaging.message.id": job_id,
            "gleaner.item_id": item_id,
            "gleaner.delay_seconds": delay,
        },
    ):
        from opentelemetry import propagate

        carrier: dict[str, str] = {}
        propagate.inject(carrier)
    return {TRACE_META_KEY: carrier}


def traced_job(func: Callable[P, R]) -> Callable[P, R]:
    """Run `execute_item(stage, item_id, …)` in the consumer span of the RQ job running it.

    The parent is the enqueue in the job's meta, else the item's root read from SQL. The job's wait in
    its queue is a span of its own, from the job's enqueue to its start.
    """

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if _tracer is None:
            return func(*args, **kwargs)
        stage, item_id = args[0], args[1]
        with job_span(str(stage), int(item_id)):  # type: ignore[call-overload]
            return func(*args, **kwargs)

    return run


def _stored_trace(item_id: int) -> str | None:
    """The item's root traceparent from SQL: for a job whose meta carries none (a re-issue)."""
    from sqlalchemy import select

    from gleaner.db import session_scope
    from gleaner.models import TaskItem
    from gleaner.runtime import current

    with session_scope(current().sessions) as session:
        return session.scalar(
            select(TaskItem.traceparent).where(TaskItem.id == item_id)
        )


@contextmanager
def job_span(stage: str, item_id: int) -> Iterator[trace.Span | None]:
    """The consumer span of the RQ job running now (see `traced_job`)."""
    if _tracer is None:
        yield None
        return
    from opentelemetry import propagate
    from rq import get_current_job

    job = get_current_job()
    carrier = (job.meta or {}).get(TRACE_META_KEY) if job is not None else None
    parent = propagate.extract(carrier) if carrier else None
    if parent is None:
        parent = _context_of(_stored_trace(item_id))
    queue = job.origin if job is not None else stage
    started = time.time_ns()
    enqueued = getattr(job, "enqueued_at", None) if job is not None else None
    if enqueued is not None:
        _tracer.start_span(
            f"wait {queue}",
            context=parent,
            kind=SpanKind.INTERNAL,
            start_time=int(enqueued.timestamp() * 1e9),
            attributes={"messaging.destination.name": queue},
        ).end(end_time=started)
    attributes: dict[str, Any] = {
        "messaging.system": MESSAGING_SYSTEM,
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": queue,
        "gleaner.stage": stage,
        "gleaner.item_id": item_id,
    }
    if job is not None:
        attributes["messaging.message.id"] = job.id
        if enqueued is not None:
            attributes["gleaner.queue_wait_seconds"] = max(
                0.0, started / 1e9 - enqueued.timestamp()
            )
    token = _in_job.set(True)
    try:
        with _tracer.start_as_current_span(
            f"process {queue}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        ) as span:
            yield span
    finally:
        _in_job.reset(token)


def annotate(**attributes: Any) -> None:
    """Add `gleaner.<name>` attributes to the current span (the attempt number, the outcome, …)."""
    if _tracer is None:
        return
    span = trace.get_current_span()
    for name, value in attributes.items():
        if value is not None:
            span.set_attribute(f"gleaner.{name}", value)


@contextmanager
def span(
    name: str,
    attributes: Mapping[str, Any] | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
) -> Iterator[trace.Span | None]:
    """A child span of the current one around a unit of work (a fetch, an extraction, an AI call)."""
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(
        name,
        kind=kind,
        attributes={k: v for k, v in (attributes or {}).items() if v is not None},
    ) as current:
        yield current


def set_attributes(current: trace.Span | None, attributes: Mapping[str, Any]) -> None:
    """Attributes known only at the end of a span's work (tokens used, bytes read); None values skipped."""
    if current is not None:
        current.set_attributes({k: v for k, v in attributes.items() if v is not None})


DEFAULT_MIN_WAIT_SECONDS = 0.001
"""A wait shorter than this (a token granted at once) gets no span: it would only be noise."""


def record_wait(
    name: str, seconds: float, attributes: Mapping[str, Any] | None = None
) -> None:
    """A span for a wait that just ended (`seconds` long), as a child of the current span."""
    if _tracer is None or seconds < DEFAULT_MIN_WAIT_SECONDS:
        return
    end = time.time_ns()
    _tracer.start_span(
        name, start_time=end - int(seconds * 1e9), attributes=attributes
    ).end(end_time=end)


def add_event(name: str, **attributes: Any) -> None:
    """An event on the current span (a 429 answered, a pause taken)."""
    if _tracer is not None:
        trace.get_current_span().add_event(name, attributes)


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current sampled span, or None: for log lines and exemplars."""
    if _tracer is None:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def exemplar() -> dict[str, str] | None:
    """The exemplar labels of an observation made now: the trace it belongs to, when sampled."""
    ids = current_ids()
    return {"trace_id": ids[0]} if ids is not None else None


def http_trace_extension() -> dict[str, Any]:
    """httpx request extensions adding connect / first byte / body events to the current span."""
    if _tracer is None:
        return {}
    current = trace.get_current_span()

    def on_event(name: str, _info: dict[str, Any]) -> None:
        event = _HTTP_EVENTS.get(name)
        if event is not None:
            current.add_event(event)

    return {"trace": on_event}


_HTTP_EVENTS = {
    "connection.connect_tcp.complete": "connected",
    "connection.start_tls.complete": "tls_established",
    "http11.send_request_headers.complete": "request_sent",
    "http2.send_request_headers.complete": "request_sent",
    "http11.receive_response_headers.complete": "first_byte",
    "http2.receive_response_headers.complete": "first_byte",
    "http11.receive_response_body.complete": "body_received",
    "http2.receive_response_body.complete": "body_received",
}
