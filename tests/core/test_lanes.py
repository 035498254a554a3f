"""Three priority lanes per stage, drained high → normal → low by real workers, with the low lane's
starvation guard; the queue-depth metric counts every lane."""

from __future__ import annotations

from redis import Redis

from gleaner.queues import QUEUES, LaneOrder
from gleaner.runtime import Runtime
from tests.conftest import RunWorker
from tests.factories import submit_task


class _Lane:
    def __init__(self, name: str) -> None:
        self.name = name


class TestLaneOrder:
    def test_strict_priority_until_the_low_lane_is_due(self) -> None:
        high, normal, low = _Lane("p-high"), _Lane("p"), _Lane("p-low")
        order = LaneOrder([high, normal, low], every=3)
        assert order.after_dequeue("p-high") == [high, normal, low]
        assert order.after_dequeue("p") == [low, high, normal]  # 2 in a row: low's turn
        assert order.after_dequeue("p-low") == [
            high,
            normal,
            low,
        ]  # served: count again

    def test_an_empty_low_lane_keeps_its_turn_until_served(self) -> None:
        high, normal, low = _Lane("p-high"), _Lane("p"), _Lane("p-low")
        order = LaneOrder([high, normal, low], every=2)
        for _ in range(5):  # low was looked at first each time but had nothing
            assert order.after_dequeue("p-high")[0] is low


def _lanes_ran(redis: Redis) -> list[str]:
    return [entry.decode() for entry in redis.lrange("test:lanes", 0, -1)]


class TestWorkersDrainLanes:
    def test_high_then_normal_then_low_with_the_guard(
        self, runtime: Runtime, run_worker: RunWorker, redis: Redis
    ) -> None:
        # Submitted low first, high last: FIFO would run them the other way round.
        for priority, count in (("low", 6), ("normal", 6), ("high", 3)):
            submit_task(
                runtime,
                urls=[f"https://example.com/{priority}/{i}" for i in range(count)],
                job_path="tests.jobs.record_lane",
                priority=priority,  # type: ignore[arg-type]
            )
        assert [redis.llen(f"rq:queue:{lane}") for lane in QUEUES["parsing"].lanes] == [
            3,
            6,
            6,
        ]
        run_worker(
            "parsing",
            env={
                "GLEANER_WORKER_CONCURRENCY": "1",
                "GLEANER_WORKER_LOW_LANE_EVERY": "3",
            },
        )
        # every third job comes from the low lane while it has work; high before normal otherwise
        assert _lanes_ran(redis) == [
            *["high", "high", "low"],
            *["high", "normal", "low"],
            *["normal", "normal", "low"],
            *["normal", "normal", "low"],
            *["normal", "low", "low"],
        ]

    def test_without_low_work_strict_priority(
        self, runtime: Runtime, run_worker: RunWorker, redis: Redis
    ) -> None:
        for index, priority in enumerate(("normal", "high", "normal", "high")):
            submit_task(
                runtime,
                urls=[f"https://example.com/{index}"],
                job_path="tests.jobs.record_lane",
                priority=priority,  # type: ignore[arg-type]
            )
        run_worker("parsing", env={"GLEANER_WORKER_CONCURRENCY": "1"})
        assert _lanes_ran(redis) == ["high", "high", "normal", "normal"]
