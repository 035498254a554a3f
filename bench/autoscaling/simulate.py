"""Simulate a worker Deployment autoscaled on a queue metric, for a burst of 5,000 items.

`uv run python -m bench.autoscaling.simulate` (or `make bench-autoscaling`) prints a table, writes results.json
and autoscaling.png. The metric is what `gleaner_queue_backlog_jobs` (waiting + running) or a waiting-only
metric (KEDA's redis trigger, `rq:queue:<name>` length) would report at each Prometheus scrape; the HPA is
bench/autoscaling/hpa.py. Pods take `pod_start` seconds to become ready, run `slots` jobs at once
(GLEANER_WORKER_CONCURRENCY), and on scale-down finish their jobs before exiting (warm shutdown).

Which pods a scale-down removes is the ReplicaSet's choice: not-ready pods first, then the newest
(`default`), or with Gleaner's pod-deletion-cost annotation the pods with the fewest running jobs first
(`deletion-cost`).
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.autoscaling.hpa import SCALE_DOWN_DEFAULT, Autoscaler, Rules

DT = 0.1  # seconds per step; jobs start and end at their exact times within a step


@dataclass(frozen=True)
class Setup:
    signal: str  # "backlog" (waiting + running) or "waiting"
    removal: str  # "default" or "deletion-cost"
    down_window: float = 300.0
    target: float = 5.0  # chart: targetBacklogPerReplica
    min_replicas: int = 1
    max_replicas: int = 10  # chart: workers.parsing.autoscaling.maxReplicas
    slots: int = 4  # GLEANER_WORKER_CONCURRENCY
    pod_start: float = 20.0
    scrape_interval: float = 15.0
    sync_period: float = 15.0


@dataclass
class Pod:
    created: float
    ready_at: float
    jobs: list[tuple[float, int]] = field(default_factory=list)  # (ends at, item)
    free_at: list[float] = field(default_factory=list)  # per idle slot: since when
    terminating: bool = False


@dataclass
class Result:
    drain_seconds: float
    busy_pods_removed: int
    jobs_in_flight_on_removed_pods: int
    scale_events: int
    direction_changes: int
    peak_replicas: int
    pod_seconds: float
    mean_wait_seconds: float
    timeline: list[tuple[float, int, int, int]]  # (t, waiting, running, replicas)


STREAM_RATE = 5.0
"""Items per second of the stream scenario: a downstream stage fed by the one before it, at a quarter
of this stage's full capacity (10 pods × 4 slots / 2 s), so that its workers keep up."""


def workload(kind: str, items: int, seed: int) -> tuple[list[float], list[float]]:
    """(arrival times, job durations): parsing-like jobs, lognormal with a mean of 2 s (1–3 s per link)."""
    rng = random.Random(seed)
    durations = [rng.lognormvariate(math.log(2.0) - 0.125, 0.5) for _ in range(items)]
    if kind == "burst":
        arrivals = [0.0] * items
    else:
        arrivals = [n / STREAM_RATE for n in range(items)]
    return arrivals, durations


def simulate(
    setup: Setup,
    arrivals: list[float],
    durations: list[float],
    fixed: int | None = None,
) -> Result:
    hpa = Autoscaler(
        target=setup.target,
        min_replicas=setup.min_replicas,
        max_replicas=setup.max_replicas,
        down=Rules(window=setup.down_window, policies=SCALE_DOWN_DEFAULT.policies),
    )
    start_ready = -1.0 if fixed else 0.0
    pods = [
        new_pod(setup, start_ready - setup.pod_start)
        for _ in range(fixed or setup.min_replicas)
    ]
    waiting: deque[int] = deque()
    next_arrival, done, t = 0, 0, 0.0
    metric, last_scrape, last_sync = 0.0, -math.inf, 0.0
    waits: list[float] = []
    result = Result(0.0, 0, 0, 0, 0, len(pods), 0.0, 0.0, [])
    last_direction = 0
    drained_at: float | None = None
    replicas = len(pods)
    while drained_at is None or (
        fixed is None and replicas > setup.min_replicas and t < drained_at + 900
    ):
        if drained_at is None and done == len(arrivals):
            drained_at = t
        t += DT
        while next_arrival < len(arrivals) and arrivals[next_arrival] <= t:
            waiting.append(next_arrival)
            next_arrival += 1
        done += run_pods(pods, waiting, arrivals, durations, t, waits)
        pods = [pod for pod in pods if not (pod.terminating and not pod.jobs)]
        running = sum(len(pod.jobs) for pod in pods)
        if t - last_scrape >= setup.scrape_interval:
            metric = (
                len(waiting) + running
                if setup.signal == "backlog"
                else float(len(waiting))
            )
            last_scrape = t
        active = [pod for pod in pods if not pod.terminating]
        if fixed is None and t - last_sync >= setup.sync_period:
            last_sync = t
            desired = hpa.desired(t, len(active), metric)
            if desired != len(active):
                direction = 1 if desired > len(active) else -1
                result.scale_events += 1
                result.direction_changes += int(last_direction not in (0, direction))
                last_direction = direction
                if desired > len(active):
                    pods += [new_pod(setup, t) for _ in range(desired - len(active))]
                else:
                    for pod in pick_for_removal(
                        active, len(active) - desired, setup.removal, t
                    ):
                        pod.terminating = True
                        result.busy_pods_removed += int(bool(pod.jobs))
                        result.jobs_in_flight_on_removed_pods += len(pod.jobs)
        replicas = sum(1 for pod in pods if not pod.terminating)
        result.peak_replicas = max(result.peak_replicas, replicas)
        result.pod_seconds += len(pods) * DT
        if round(t / DT) % 10 == 0:
            result.timeline.append((round(t, 1), len(waiting), running, replicas))
    result.timeline.append(
        (round(t, 1), len(waiting), 0, sum(1 for pod in pods if not pod.terminating))
    )
    result.drain_seconds = round(drained_at, 1)
    result.mean_wait_seconds = sum(waits) / len(waits)
    return result


def new_pod(setup: Setup, created: float) -> Pod:
    ready = created + setup.pod_start
    return Pod(created=created, ready_at=ready, free_at=[ready] * setup.slots)


def run_pods(
    pods: list[Pod],
    waiting: deque[int],
    arrivals: list[float],
    durations: list[float],
    t: float,
    waits: list[float],
) -> int:
    """Finish the jobs that ended by `t` and start waiting ones on free slots, at their exact times."""
    finished = 0
    progress = True
    while progress:
        progress = False
        for pod in pods:
            for end, item in [job for job in pod.jobs if job[0] <= t]:
                pod.jobs.remove((end, item))
                pod.free_at.append(end)
                finished += 1
                progress = True
            if pod.terminating or pod.ready_at > t:
                continue
            pod.free_at.sort()
            while pod.free_at and waiting:
                item = waiting.popleft()
                start = max(pod.free_at.pop(0), arrivals[item], pod.ready_at)
                waits.append(start - arrivals[item])
                pod.jobs.append((start + durations[item], item))
                progress = True
    return finished


def pick_for_removal(
    active: list[Pod], count: int, removal: str, t: float
) -> list[Pod]:
    def rank(pod: Pod) -> tuple[int, float, float]:
        not_ready = 0 if pod.ready_at > t else 1
        cost = float(len(pod.jobs)) if removal == "deletion-cost" else 0.0
        return (not_ready, cost, -pod.created)  # newest first among equals

    return sorted(active, key=rank)[:count]


GRID = [
    Setup(signal, removal, window)
    for window in (300.0, 60.0)
    for signal in ("waiting", "backlog")
    for removal in ("default", "deletion-cost")
]


def row(scenario: str, setup: Setup, result: Result, ideal: float) -> dict[str, object]:
    return {
        "scenario": scenario,
        **{
            key: value
            for key, value in asdict(setup).items()
            if key in ("signal", "removal", "down_window", "target")
        },
        "drain_s": result.drain_seconds,
        "ideal_s": ideal,
        "drain_vs_ideal": round(result.drain_seconds / ideal, 3),
        "busy_pods_removed": result.busy_pods_removed,
        "jobs_in_flight_on_removed": result.jobs_in_flight_on_removed_pods,
        "scale_events": result.scale_events,
        "direction_changes": result.direction_changes,
        "peak_replicas": result.peak_replicas,
        "pod_hours": round(result.pod_seconds / 3600, 2),
        "mean_wait_s": round(result.mean_wait_seconds, 1),
    }


def plot(path: Path, runs: dict[tuple[str, str], Result]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = sorted({scenario for scenario, _ in runs})
    fig, axes = plt.subplots(
        len(scenarios), 2, figsize=(13, 4.2 * len(scenarios)), squeeze=False
    )
    for r, scenario in enumerate(scenarios):
        for c, signal in enumerate(("waiting", "backlog")):
            result = runs[(scenario, signal)]
            ax = axes[r][c]
            ts = [p[0] for p in result.timeline]
            ax.plot(
                ts,
                [p[1] for p in result.timeline],
                label="waiting jobs",
                color="tab:orange",
            )
            ax.plot(
                ts,
                [p[2] for p in result.timeline],
                label="running jobs",
                color="tab:green",
            )
            ax.set_ylabel("jobs")
            ax.set_xlabel("seconds")
            twin = ax.twinx()
            twin.step(
                ts,
                [p[3] for p in result.timeline],
                where="post",
                label="replicas",
                color="tab:blue",
            )
            twin.set_ylabel("replicas")
            twin.set_ylim(0, 12)
            title = (
                "waiting only"
                if signal == "waiting"
                else "waiting + running (gleaner_queue_backlog_jobs)"
            )
            ax.set_title(
                f"{scenario}: {title}\ndrain {result.drain_seconds:.0f} s, busy pods removed {result.busy_pods_removed}"
            )
            lines = (
                ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
            )
            ax.legend(
                lines,
                [str(line.get_label()) for line in lines],
                loc="upper right",
                fontsize=8,
            )
    fig.suptitle(
        "HPA on a queue metric: 5,000 items, max 10 pods × 4 slots, target 5/replica, 300 s scale-down window, ReplicaSet default removal"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    rows: list[dict[str, object]] = []
    plotted: dict[tuple[str, str], Result] = {}
    for scenario in ("burst", "stream"):
        arrivals, durations = workload(scenario, args.items, args.seed)
        ideal = simulate(
            GRID[0], arrivals, durations, fixed=GRID[0].max_replicas
        ).drain_seconds
        for setup in GRID:
            result = simulate(setup, arrivals, durations)
            rows.append(row(scenario, setup, result, ideal))
            if setup.down_window == 300 and setup.removal == "default":
                plotted[(scenario, setup.signal)] = result
    header = list(rows[0])
    print(" | ".join(header))
    for r in rows:
        print(" | ".join(str(r[key]) for key in header))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    plot(args.out / "autoscaling.png", plotted)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
