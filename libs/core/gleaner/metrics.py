"""Prometheus metrics: names prefixed gleaner_, base units, bounded labels (queue, stage, outcome, …).

Two kinds live here:
- process metrics (stage items, durations, waits, attempts, external calls, rate-limit waits) in
  prometheus-client's default registry; a worker serves them with `start_http_server` on its own port;
- the queue-depth collector, which reads Redis when Prometheus scrapes. Only the API registers it
  (`make_registry`), so a deployment exports each queue gauge once per API replica, not once per worker
  pod; the chart's queries take `max by (queue)` over those replicas.

`gleaner_queue_backlog_jobs{queue}` (waiting + running) is the autoscaling signal: a queue whose jobs are
all running still has a backlog, so its busy workers are not scaled away.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.utils import utcparse
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from gleaner import tracing
from gleaner.queues import QUEUES
from gleaner.settings import Settings

log = structlog.get_logger("gleaner.metrics")

# Counters and histograms would each add a `_created` series (a start timestamp Prometheus does not
# need to compute rates): drop them and keep a pod's series count down.
disable_created_metrics()  # type: ignore[no-untyped-call]

# --- per stage, observed by gleaner.execution in the worker --------------------------------------------

ITEMS = Counter(
    "gleaner_stage_items_total",
    "Items that finished an attempt at a stage, by outcome (completed, retry, failed, cancelled, requeued).",
    ["stage", "outcome"],
)
ITEM_DURATION = Histogram(
    "gleaner_stage_duration_seconds",
    "Seconds one attempt at a stage took inside the worker.",
    ["stage"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
QUEUE_WAIT = Histogram(
    "gleaner_stage_queue_wait_seconds",
    "Seconds an item waited in its queue before a worker started it.",
    ["stage"],
    buckets=(0.01, 0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 3600),
)
ATTEMPTS = Histogram(
    "gleaner_stage_attempt_number",
    "Which attempt an item was on when an attempt finished (1 = first try).",
    ["stage"],
    buckets=(1, 2, 3, 5, 10),
)

# --- calls to services outside our control, observed by the stage helpers -------------------------------

EXTERNAL_REQUESTS = Counter(
    "gleaner_external_requests_total",
    "Requests sent to an outside service (notion, ai, web), by HTTP status or error kind.",
    ["service", "status"],
)
RATELIMIT_WAIT = Histogram(
    "gleaner_ratelimit_wait_seconds",
    "Seconds a caller waited for a shared rate-limit bucket before it could send.",
    ["bucket"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def observe_item(stage: str, outcome: str, seconds: float, attempt: int) -> None:
    ITEMS.labels(stage, outcome).inc()
    # the trace of this attempt, shown by Prometheus and Grafana next to a slow bucket
    ITEM_DURATION.labels(stage).observe(seconds, exemplar=tracing.exemplar())
    ATTEMPTS.labels(stage).observe(attempt)


def observe_queue_wait(stage: str, seconds: float | None) -> None:
    if seconds is not None:
        QUEUE_WAIT.labels(stage).observe(max(0.0, seconds), tracing.exemplar())


def observe_external_request(service: str, status: int | str) -> None:
    """Count one outside request. `service`: notion | ai | web; `status`: the HTTP status code, or
    `timeout` / `error` when no response came. Never a URL or a host: labels stay bounded."""
    EXTERNAL_REQUESTS.labels(service, str(status)).inc()


def observe_ratelimit_wait(bucket: str, seconds: float) -> None:
    """Record the time a caller spent waiting for `bucket` (a short fixed name such as `notion`);
    record 0 too, so the histogram's count is the number of acquisitions."""
    RATELIMIT_WAIT.labels(bucket).observe(max(0.0, seconds))


# --- queue depth, read from Redis at scrape time -------------------------------------------------------

JOB_STATES = ("waiting", "running", "scheduled", "failed")

DEFAULT_OLDEST_SCAN = 10
"""Waiting job ids looked at (from the head of a lane) to find one whose hash still has enqueued_at."""

# KEYS: per lane (high, normal, low), its list, started (wip), scheduled and failed registries and worker set, 5 keys a lane.
# ARGV[1] = now (Unix seconds, the clock RQ scores its registries with), ARGV[2] = the job key prefix.
# Returns per lane {waiting, running, scheduled, failed, oldest enqueued_at or false, live workers}.
# Started and failed registries are scored by expiry: entries past it are abandoned or expired, not
# counted (RQ's own cleanup removes them later). One script keeps the whole read atomic and one trip.
_DEPTH_SCRIPT = """
local now = ARGV[1]
local out = {}
for i = 1, #KEYS, 5 do
  local oldest = false
  for _, id in ipairs(redis.call('LRANGE', KEYS[i], 0, tonumber(ARGV[3]) - 1)) do
    oldest = redis.call('HGET', ARGV[2] .. id, 'enqueued_at')
    if oldest then break end
  end
  local workers = 0
  for _, key in ipairs(redis.call('SMEMBERS', KEYS[i + 4])) do
    workers = workers + redis.call('EXISTS', key)
  end
  out[#out + 1] = {
    redis.call('LLEN', KEYS[i]),
    redis.call('ZCOUNT', KEYS[i + 1], '(' .. now, '+inf'),
    redis.call('ZCARD', KEYS[i + 2]),
    redis.call('ZCOUNT', KEYS[i + 3], '(' .. now, '+inf'),
    oldest,
    workers,
  }
end
return out
"""


@dataclass(frozen=True)
class QueueDepth:
    """One stage's queue, all three lanes summed: a low-lane backlog scales workers too."""

    waiting: int
    running: int
    scheduled: int
    failed: int
    oldest_age_seconds: float  # 0 when nothing waits
    workers: int  # live RQ workers listening on the stage's normal lane

    @property
    def backlog(self) -> int:
        """The autoscaling signal: jobs a worker holds or must still take."""
        return self.waiting + self.running


def _lane_keys(name: str) -> list[str]:
    # RQ's own key names, taken from its classes so an RQ upgrade that moves them shows up here.
    return [
        Queue.redis_queue_namespace_prefix + name,
        StartedJobRegistry.key_template.format(name),
        ScheduledJobRegistry.key_template.format(name),
        FailedJobRegistry.key_template.format(name),
        WORKERS_BY_QUEUE_KEY % name,
    ]


def read_queue_depths(redis: Redis, now: float | None = None) -> dict[str, QueueDepth]:
    """Every stage's queue depth, in one pipelined round trip (one script per stage). Raises RedisError."""
    now = time.time() if now is None else now
    with redis.pipeline(transaction=False) as pipe:
        for spec in QUEUES.values():
            keys = [key for lane in spec.lanes for key in _lane_keys(lane)]
            pipe.eval(
                _DEPTH_SCRIPT,
                len(keys),
                *keys,
                repr(now),
                Job.redis_job_namespace_prefix,
                DEFAULT_OLDEST_SCAN,
            )
        replies = pipe.execute()
    return {
        stage: _depth(lanes, now) for stage, lanes in zip(QUEUES, replies, strict=True)
    }


def _depth(lanes: list[list[object]], now: float) -> QueueDepth:
    ages = [now - utcparse(_text(lane[4])).timestamp() for lane in lanes if lane[4]]
    return QueueDepth(
        waiting=sum(_int(lane[0]) for lane in lanes),
        running=sum(_int(lane[1]) for lane in lanes),
        scheduled=sum(_int(lane[2]) for lane in lanes),
        failed=sum(_int(lane[3]) for lane in lanes),
        oldest_age_seconds=max([0.0, *ages]),
        # every worker listens on all lanes: the busiest lane's count is the stage's
        workers=max(_int(lane[5]) for lane in lanes),
    )


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | str | bytes) else 0


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class QueueCollector(Collector):
    """Per stage (label `queue`): jobs by state, oldest waiting job's age, backlog, live workers.

    A Redis failure does not fail the scrape: `gleaner_queue_up` is 0 and the queue gauges are absent,
    so an HPA keeps its current size (a missing metric) instead of scaling to the floor (a zero).
    """

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def describe(self) -> Iterable[Metric]:
        # Registering must not touch Redis: describe with empty families.
        return self._families()

    def collect(self) -> Iterable[Metric]:
        families = self._families()
        up, jobs, oldest, backlog, workers = families
        try:
            depths = read_queue_depths(self.redis)
        except RedisError as exc:
            log.warning("queue_metrics_unavailable", error=str(exc))
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        for stage, depth in depths.items():
            for state in JOB_STATES:
                jobs.add_metric([stage, state], getattr(depth, state))
            oldest.add_metric([stage], depth.oldest_age_seconds)
            backlog.add_metric([stage], depth.backlog)
            workers.add_metric([stage], depth.workers)
        return families

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "gleaner_queue_up",
                "1 when the last read of the queues from Redis succeeded, else 0.",
            ),
            GaugeMetricFamily(
                "gleaner_queue_jobs",
                "Jobs in a stage's queue (all lanes) by state: waiting, running, scheduled (retry delay), failed.",
                labels=["queue", "state"],
            ),
            GaugeMetricFamily(
                "gleaner_queue_oldest_job_age_seconds",
                "Seconds since the oldest waiting job was enqueued; 0 when nothing waits.",
                labels=["queue"],
            ),
            GaugeMetricFamily(
                "gleaner_queue_backlog_jobs",
                "Waiting + running jobs: the signal each worker's autoscaler targets per replica.",
                labels=["queue"],
            ),
            GaugeMetricFamily(
                "gleaner_queue_workers",
                "Live RQ workers (job slots: each pod runs WORKER_CONCURRENCY) listening on a stage's queue.",
                labels=["queue"],
            ),
        ]


class _DefaultRegistry(Collector):
    """This process's default-registry metrics (process, GC, platform, any stage metrics) in another registry."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class _Limits(Collector):
    """Configured limits, constant for the process's life: the same in every API process, so they are
    collected here rather than kept as Gauges (in multiprocess mode a Gauge writes one file per process)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterable[Metric]:
        timeouts = GaugeMetricFamily(
            "gleaner_queue_job_timeout_seconds",
            "A stage's configured job timeout; alerts compare the oldest job's age with it.",
            labels=["queue"],
        )
        for stage in QUEUES:
            timeouts.add_metric([stage], self.settings.timeout(stage))
        budgets = GaugeMetricFamily(
            "gleaner_ratelimit_budget_per_second",
            "Requests per second a shared rate-limit bucket allows; the dashboard shows use against it.",
            labels=["bucket"],
        )
        budgets.add_metric(["notion"], self.settings.NOTION_REQUESTS_PER_SECOND)
        budgets.add_metric(["ai"], self.settings.AI_REQUESTS_PER_MINUTE / 60)
        return [timeouts, budgets]


def multiprocess_dir() -> str | None:
    """PROMETHEUS_MULTIPROC_DIR when this process is one of several API processes sharing a port
    (`serve --processes N` sets it), else None."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def make_registry(redis: Redis, settings: Settings) -> CollectorRegistry:
    """The registry the API serves at /metrics: its process metrics, the queue-depth collector and
    the limits alerts and dashboards compare against (job timeouts, outside request budgets).

    With several API processes (PROMETHEUS_MULTIPROC_DIR set), the counters and histograms are every
    process's, summed from the directory they all write to, whichever process answers the scrape; the
    per-process collectors (process_*, python_gc_*) are left out, as they would describe only the one
    process that answered.
    """
    registry = CollectorRegistry()
    directory = multiprocess_dir()
    if directory is None:
        registry.register(_DefaultRegistry())
    else:
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    registry.register(QueueCollector(redis))
    registry.register(_Limits(settings))
    return registry


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """(body, content type) of a /metrics response in Prometheus's text format."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
