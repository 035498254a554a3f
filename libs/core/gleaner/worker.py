"""The worker process every stage runs: `python -m gleaner_<stage> [--burst]`.

One process runs WORKER_CONCURRENCY threads, each its own non-forking RQ worker on the stage's queues
(high, normal, low lane, with the low lane's starvation guard: queues.LaneOrder). Forking a process per job, as RQ's default Worker does, costs more than a short job;
threads share one interpreter, one SQL pool and one Redis pool, and IO-bound stages overlap their waits
(bench/worker/RESULTS.md has the figures). Each thread is a registered RQ worker with its own name,
heartbeat and current job, so `rq info`, rq-dashboard and the reconciler see exactly what runs where.

- Job timeouts are enforced per thread by one watchdog thread for the whole process (gleaner.watchdog;
  SIGALRM reaches only the main thread, and RQ's TimerDeathPenalty starts a thread per job).
- Heartbeats come from one thread for all workers, every WORKER_HEARTBEAT_SECONDS, also while a job runs,
  with a TTL of three beats: a SIGKILLed pod's workers vanish from Redis within seconds, which is what
  the reconciler (gleaner.reconciler) acts on. A beat that finds its key gone (Redis restarted) writes
  the whole registration back. RQ's own per-job heartbeats (three unpipelined writes a job) are skipped:
  that thread covers them.
- Per job, RQ's loop writes only what `rq info` shows (state, current job, the job's status and its
  registries); its INFO lines per job are turned down to WARNING unless LOG_LEVEL is DEBUG.
- SIGTERM is a warm shutdown: no thread takes a new job; running jobs may finish for
  WORKER_SHUTDOWN_GRACE_SECONDS, then `execution.shutdown_requested` makes them stop at their next
  checkpoint and requeue their item without spending an attempt. A second SIGTERM/SIGINT skips the wait.
- The process is PID 1-safe: it installs its own handlers and never forks.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

import structlog
from prometheus_client import start_http_server
from redis.exceptions import RedisError
from rq import SimpleWorker
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.utils import now, utcformat
from rq.worker import WorkerStatus
from rq.worker_registration import REDIS_WORKER_KEYS, register

from gleaner import execution, tracing
from gleaner.db import migrate
from gleaner.logs import configure_logging
from gleaner.podcost import PodDeletionCost
from gleaner.queues import LaneOrder, worker_queues
from gleaner.runtime import Runtime, set_current
from gleaner.settings import Settings, Stage, load_settings
from gleaner.watchdog import WatchdogDeathPenalty

log = structlog.get_logger("gleaner.worker")

DEFAULT_DEQUEUE_POLL_SECONDS = 1
"""Seconds a thread blocks waiting for a job before it looks at its stop flag again."""

DEFAULT_RESPAWN_PAUSE_SECONDS = 1.0
"""Pause before replacing a worker thread that quit on an error (Redis gone, say)."""

DEFAULT_STOP_TIMEOUT_SECONDS = 10.0
"""After the grace period, seconds the jobs get to reach a checkpoint before the process exits anyway."""

SUSPENSION_CHECK_SECONDS = 1.0
"""How often a worker thread looks whether `rq suspend` was run (RQ: before every job)."""

HEARTBEATS_PER_TTL = 3
"""A worker whose key outlives this many missed beats is dead to the reconciler."""


class ThreadWorker(SimpleWorker):
    """RQ's in-process worker, made safe to run several per process, one per thread."""

    death_penalty_class = WatchdogDeathPenalty
    # Redis back after an outage: resume within seconds, not RQ's default of up to a minute.
    max_connection_wait_time = 5.0

    def __init__(
        self,
        queues: list[Queue],
        *,
        connection: Any,
        name: str,
        liveness_ttl: int,
        runs_maintenance: bool,
        low_lane_every: int = 10,
    ) -> None:
        super().__init__(
            queues, name=name, connection=connection, worker_ttl=liveness_ttl
        )
        self.liveness_ttl = liveness_ttl
        self.runs_maintenance = runs_maintenance
        self.current_job_id: str | None = None
        self.stopping = threading.Event()
        self.retired = False
        self.lane_order = LaneOrder(queues, low_lane_every)
        self.suspension_checked_at = -SUSPENSION_CHECK_SECONDS

    def check_for_suspension(self, burst: bool) -> None:
        """RQ asks Redis whether workers are suspended (`rq suspend`) before every job; once a
        SUSPENSION_CHECK_SECONDS per thread is enough, and saves a round trip a job."""
        now_ = time.monotonic()
        if now_ - self.suspension_checked_at < SUSPENSION_CHECK_SECONDS:
            return
        self.suspension_checked_at = now_
        super().check_for_suspension(burst)

    def reorder_queues(self, reference_queue: Queue) -> None:
        """After each dequeue: high, normal, low — or the low lane first when its turn has come."""
        self._ordered_queues = self.lane_order.after_dequeue(reference_queue.name)

    def register_birth(self) -> None:
        super().register_birth()  # type: ignore[no-untyped-call]
        # RQ's birth hash has no state: `rq info` and the API would read "?" until the loop wrote one.
        super().set_state(WorkerStatus.STARTED)
        # RQ gives a new worker's key its TTL + 60 s; liveness is a few beats from the start.
        self.connection.expire(self.key, self.liveness_ttl)

    def register_death(self) -> None:
        self.retired = (
            True  # the pool's heartbeat must not bring a finished worker back
        )
        super().register_death()  # type: ignore[no-untyped-call]

    # --- signals and stopping: the process's main thread owns both ------------------------------
    def _install_signal_handlers(self) -> None:
        """Signal handlers belong to the main thread (the pool), never to a worker thread."""

    def request_warm_stop(self) -> None:
        """Take no new job; the running one finishes (or stops at a checkpoint once told to)."""
        self._shutdown_requested_date = now()
        self._stop_requested = True
        self.stopping.set()
        try:
            self.set_shutdown_requested_date()  # type: ignore[no-untyped-call]
        except RedisError:
            pass  # only informational (`rq info`); stopping must not depend on Redis

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        if timeout is None:  # burst: one non-blocking look
            return super().dequeue_job_and_maintain_ttl(None, max_idle_time)
        # RQ would block for minutes; poll in short waits so a stop request is seen within a second.
        while not self.stopping.is_set():
            result = super().dequeue_job_and_maintain_ttl(
                DEFAULT_DEQUEUE_POLL_SECONDS, DEFAULT_DEQUEUE_POLL_SECONDS
            )
            if result is None:
                continue
            if (
                self.stopping.is_set()
            ):  # popped just as SIGTERM came: give it back, front of the line
                job, queue = result
                queue.push_job_id(job.id, at_front=True)
                return None
            return result
        return None

    @property
    def should_run_maintenance_tasks(self) -> bool:
        # One thread per process cleans RQ's registries; the others only work.
        return self.runs_maintenance and bool(super().should_run_maintenance_tasks)

    def procline(self, message: str) -> None:
        """The process title is one for all threads; leave it alone."""

    # --- what runs, for heartbeats and the deletion cost ------------------------------------------
    def execute_job(self, job: Job, queue: Queue) -> None:
        self.current_job_id = job.id
        try:
            # SimpleWorker.execute_job, with RQ's prepare_execution folded into prepare_job_execution
            self.perform_job(job, queue)
            self.set_state(WorkerStatus.IDLE)
        finally:
            self.current_job_id = None

    @property
    def is_busy(self) -> bool:
        return self.current_job_id is not None

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ beats before and after every dequeue and job; the pool's heartbeat thread keeps this
        worker's key alive (with a TTL of a few beats) whatever the thread is doing, so these are skipped.
        """

    def handle_execution_ended(
        self,
        job: Job,
        queue: Queue,  # noqa: ARG002
        heartbeat_ttl: int,  # noqa: ARG002
    ) -> None:
        # RQ also writes the job's last heartbeat here, one unpipelined round trip per job; the job's
        # status and end time follow in the same pipeline that files its result.
        job.ended_at = now()

    # --- one pipeline before a job, one after (RQ: about twenty round trips a job) ---------------------
    def prepare_job_execution(
        self, job: Job, remove_from_intermediate_queue: bool = False
    ) -> None:
        """What RQ writes before a job (execution record, started registry, worker busy with its
        current job, the job started), in one round trip instead of two; the per-job heartbeats are
        the pool's."""
        with self.connection.pipeline() as pipe:
            self.execution = Execution.create(
                job, self.get_heartbeat_ttl(job), pipeline=pipe, worker_name=self.name
            )
            self.set_state(WorkerStatus.BUSY, pipeline=pipe)
            self.set_current_job_id(job.id, pipeline=pipe)
            self.set_current_job_working_time(0, pipeline=pipe)
            job.prepare_for_execution(self.name, pipeline=pipe)
            if remove_from_intermediate_queue:
                pipe.lrem(
                    Queue(
                        job.origin, connection=self.connection
                    ).intermediate_queue_key,
                    1,
                    job.id,
                )
            pipe.execute()

    def handle_job_success(
        self, job: Job, queue: Queue, started_job_registry: Any
    ) -> None:
        """A job that keeps no result (every stage job: SQL keeps it) is filed in one pipeline: the
        worker's counts, the execution record out of the started registry, the job deleted, the worker
        idle. RQ's own path re-reads the job's status and executions first (about ten round trips).
        Other jobs take RQ's path. Gleaner never uses RQ's job dependencies (a task's are SQL's)."""
        if job.get_result_ttl(self.default_result_ttl) != 0 or job.repeats_left:
            super().handle_job_success(job, queue, started_job_registry)
            return
        with self.connection.pipeline() as pipe:
            ended = job.ended_at or now()
            self.increment_successful_job_count(pipeline=pipe)
            self.increment_total_working_time(ended - (job.started_at or ended), pipe)
            self.set_current_job_id(None, pipeline=pipe)
            if self.execution is not None:
                self.execution.delete(job=job, pipeline=pipe)
                self.execution = None
            pipe.delete(job.key, job.dependents_key, job.dependencies_key)
            pipe.delete(job.execution_registry.key)
            self.set_state(WorkerStatus.IDLE, pipeline=pipe)
            pipe.execute()

    def set_state(self, state: str, pipeline: Any = None) -> None:
        # RQ sets "idle" after each job and again before each dequeue: write only a change.
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline)

    def beat(self) -> None:
        """One heartbeat from the pool's thread; writes the registration back if Redis lost it."""
        if self.retired or self.birth_date is None:
            return
        with self.connection.pipeline() as pipe:
            self.last_heartbeat = now()
            # RQ's own idle heartbeat may have re-created a bare hash: "birth" and the registry
            # membership are what say the registration survived.
            pipe.hexists(self.key, "birth")
            pipe.sismember(REDIS_WORKER_KEYS, self.key)
            pipe.hset(self.key, "last_heartbeat", utcformat(self.last_heartbeat))
            pipe.expire(self.key, self.liveness_ttl)
            has_birth, is_listed, _, _ = pipe.execute()
        if not (has_birth and is_listed):
            fields = {
                **self.serialize(),
                "state": WorkerStatus.BUSY if self.is_busy else WorkerStatus.IDLE,
            }
            job_id = self.current_job_id
            with self.connection.pipeline() as pipe:
                pipe.hset(self.key, mapping=fields)
                if job_id is not None:
                    pipe.hset(self.key, "current_job", job_id)
                register(self, pipe)
                pipe.expire(self.key, self.liveness_ttl)
                pipe.execute()
            log.warning("worker_registration_restored", worker=self.name)


class WorkerPool:
    """The main thread: starts the worker threads, beats for them, handles signals, reports the cost."""

    def __init__(
        self,
        runtime: Runtime,
        stage: Stage,
        base_name: str,
        concurrency: int,
        burst: bool,
    ) -> None:
        self.runtime = runtime
        self.stage = stage
        self.base_name = base_name
        self.burst = burst
        self.settings: Settings = runtime.settings
        self.heartbeat_seconds = self.settings.WORKER_HEARTBEAT_SECONDS
        self.slots: list[tuple[ThreadWorker, threading.Thread]] = []
        self.concurrency = concurrency
        self.stop_deadline: float | None = None
        self.stopped = threading.Event()
        self.cost = PodDeletionCost.from_settings(self.settings)

    def new_worker(self, index: int) -> ThreadWorker:
        suffix = f".{index}" if self.concurrency > 1 else ""
        return ThreadWorker(
            worker_queues(self.runtime.redis, self.stage),
            connection=self.runtime.redis,
            name=f"{self.base_name}{suffix}.{uuid.uuid4().hex[:4]}",
            liveness_ttl=self.heartbeat_seconds * HEARTBEATS_PER_TTL,
            runs_maintenance=index == 0,
            low_lane_every=self.settings.WORKER_LOW_LANE_EVERY,
        )

    def start_slot(self, index: int) -> tuple[ThreadWorker, threading.Thread]:
        worker = self.new_worker(index)
        thread = threading.Thread(
            target=self.work, args=(worker,), name=f"rq-worker-{index}", daemon=True
        )
        thread.start()
        return worker, thread

    def work(self, worker: ThreadWorker) -> None:
        try:
            # The reconciler runs RQ's scheduler in a cluster; a burst run moves due retries itself.
            worker.work(
                burst=self.burst,
                with_scheduler=self.burst,
                # RQ logs three INFO lines per job; the job runner writes one of its own
                logging_level="DEBUG"
                if self.settings.LOG_LEVEL == "DEBUG"
                else "WARNING",
            )
        except Exception:  # a thread's edge: log it; the pool replaces the thread
            log.exception("worker_thread_crashed", worker=worker.name)

    # --- signals -----------------------------------------------------------------------------------
    def handle_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.stop_deadline is None:
            grace = self.settings.WORKER_SHUTDOWN_GRACE_SECONDS
            log.info(
                "worker_warm_shutdown",
                signal=signal.Signals(signum).name,
                grace_seconds=grace,
            )
            self.stop_deadline = time.monotonic() + grace
            for worker, _ in self.slots:
                worker.request_warm_stop()
        else:
            log.warning("worker_shutdown_now", signal=signal.Signals(signum).name)
            self.stop_deadline = time.monotonic()

    # --- the main loop -----------------------------------------------------------------------------
    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.handle_signal)
        signal.signal(signal.SIGINT, self.handle_signal)
        self.slots = [self.start_slot(index) for index in range(self.concurrency)]
        beats = threading.Thread(
            target=self.beat_forever, name="heartbeats", daemon=True
        )
        beats.start()
        try:
            # Serve until stopped (or drained, in burst mode): threads that crash are replaced, even
            # all of them at once (Redis restarting under busy threads).
            while True:
                if self.supervise():
                    break
                ending = self.burst or self.stop_deadline is not None
                if ending and not any(thread.is_alive() for _, thread in self.slots):
                    break
                time.sleep(0.1)
        finally:
            self.stopped.set()
            beats.join(timeout=self.heartbeat_seconds + 1)

    def supervise(self) -> bool:
        """Replace crashed threads, enforce the grace period; True when the process must exit now."""
        if self.stop_deadline is not None and time.monotonic() >= self.stop_deadline:
            if not execution.shutdown_requested.is_set():
                busy = [
                    worker.current_job_id for worker, _ in self.slots if worker.is_busy
                ]
                log.warning("worker_grace_over_stopping_jobs", jobs=busy)
                execution.shutdown_requested.set()
            if time.monotonic() >= self.stop_deadline + DEFAULT_STOP_TIMEOUT_SECONDS:
                # a job without checkpoints (or a thread stuck on a dead Redis): leave it to the reconciler
                log.error(
                    "worker_exit_with_jobs_running",
                    jobs=[w.current_job_id for w, _ in self.slots if w.is_busy],
                )
                return True
        if self.burst or self.stop_deadline is not None:
            return False
        for index, (worker, thread) in enumerate(self.slots):
            if (
                not thread.is_alive()
            ):  # quit on an error (Redis down mid-job): a fresh worker takes over
                log.warning("worker_thread_replaced", worker=worker.name)
                time.sleep(DEFAULT_RESPAWN_PAUSE_SECONDS)
                try:
                    self.slots[index] = self.start_slot(index)
                except RedisError as exc:
                    # Redis still down: keep the dead slot and try again on the next pass,
                    # rather than let one refused connection end the whole process.
                    log.warning("worker_thread_restart_failed", error=str(exc))
        return False

    def beat_forever(self) -> None:
        while not self.stopped.wait(self.heartbeat_seconds):
            self.beat_all()

    def beat_all(self) -> None:
        for worker, thread in list(self.slots):
            if not thread.is_alive():
                continue
            try:
                worker.beat()
            except RedisError as exc:
                log.warning(
                    "worker_heartbeat_failed", worker=worker.name, error=str(exc)
                )
                break
        if self.cost is not None:
            self.cost.report(sum(1 for worker, _ in self.slots if worker.is_busy))


def process_name(stage: Stage) -> str:
    # Unique per process, readable in `rq info`: the pod name in a cluster, else host and pid.
    base = os.environ.get("GLEANER_POD_NAME") or socket.gethostname()
    return f"{stage}.{base}.{os.getpid()}"


def parse_args(stage: Stage, argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"gleaner-{stage}", description=f"Run Gleaner's {stage} worker."
    )
    parser.add_argument(
        "--burst", action="store_true", help="drain the queues, then exit"
    )
    parser.add_argument(
        "--migrate",
        action="store_true",
        help="apply database migrations before starting",
    )
    parser.add_argument(
        "--name", default=None, help="worker name prefix (default: stage.host.pid)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="jobs at once (default: GLEANER_WORKER_CONCURRENCY)",
    )
    return parser.parse_args(argv)


def run(
    stage: Stage,
    argv: Sequence[str] | None = None,
    setup: Callable[[Settings], None] | None = None,
) -> int:
    """Entry point of each worker service; returns the process exit code."""
    args = parse_args(stage, argv)
    settings = load_settings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    if setup is not None:
        setup(
            settings
        )  # the stage checks what it needs and exits naming what is missing
    if args.migrate:
        migrate(settings.database_url)
    tracing.setup(f"worker-{stage}")  # tracing: before the engine and clients are made
    runtime = Runtime.start(settings)
    set_current(runtime)
    if settings.WORKER_METRICS_PORT and not args.burst:
        start_http_server(settings.WORKER_METRICS_PORT)
    concurrency = args.concurrency or settings.WORKER_CONCURRENCY
    pool = WorkerPool(
        runtime, stage, args.name or process_name(stage), concurrency, args.burst
    )
    log.info(
        "worker_starting",
        stage=stage,
        worker=pool.base_name,
        concurrency=concurrency,
        burst=args.burst,
    )
    try:
        pool.run()
    finally:
        runtime.close()
        tracing.shutdown()  # tracing: export the last spans
    log.info("worker_stopped", stage=stage, worker=pool.base_name)
    return 0
