"""The shared token bucket, against the test's own Redis: one budget whatever the number of processes."""

from __future__ import annotations

import multiprocessing
import time

import pytest
from redis import Redis

from gleaner.errors import RetryableError
from gleaner.ratelimit import TokenBucket


def redis_now(redis: Redis) -> float:
    seconds, micros = redis.time()
    return float(seconds) + float(micros) / 1_000_000


def take_until(
    redis_url: str,
    key: str,
    rate: float,
    burst: int,
    seconds: float,
    results: multiprocessing.Queue[int],
) -> None:
    """A competing process: take tokens one by one for `seconds`, report how many it got."""
    client = Redis.from_url(redis_url)
    bucket = TokenBucket(client, key, rate, burst)
    granted = 0
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        try:
            bucket.acquire(timeout=max(0.0, stop - time.monotonic()))
        except RetryableError:
            break
        granted += 1
    results.put(granted)
    client.close()


class TestTokenBucket:
    def test_burst_then_rate(self, redis: Redis) -> None:
        bucket = TokenBucket(redis, "rl:test", rate_per_second=2, burst=3)
        assert [bucket.try_acquire() for _ in range(3)] == [0, 0, 0]
        wait = bucket.try_acquire()
        assert 0 < wait <= 0.5

    def test_timeout_raises_rate_limited(self, redis: Redis) -> None:
        bucket = TokenBucket(redis, "rl:test", rate_per_second=0.1, burst=1)
        assert bucket.acquire(timeout=1) < 1
        with pytest.raises(RetryableError) as caught:
            bucket.acquire(timeout=0.2)
        assert caught.value.code == "rate_limited"
        assert caught.value.retry_after is not None
        assert caught.value.retry_after > 5

    def test_more_than_burst_is_refused(self, redis: Redis) -> None:
        bucket = TokenBucket(redis, "rl:test", rate_per_second=1, burst=2)
        with pytest.raises(ValueError, match="at most 2"):
            bucket.acquire(3)

    def test_pause_stops_every_holder(self, redis: Redis, redis_url: str) -> None:
        one = TokenBucket(redis, "rl:test", rate_per_second=10, burst=5)
        other_client = Redis.from_url(redis_url)
        other = TokenBucket(other_client, "rl:test", rate_per_second=10, burst=5)
        one.pause(30)
        assert other.try_acquire() > 29
        with pytest.raises(RetryableError):
            other.acquire(timeout=0.1)
        other_client.close()

    def test_pause_resumes_at_rate_not_in_a_burst(self, redis: Redis) -> None:
        bucket = TokenBucket(redis, "rl:test", rate_per_second=2, burst=10)
        started = time.monotonic()
        bucket.pause(0.2)
        bucket.acquire(timeout=5)
        # The pause emptied the bucket: the first token refills 0.5 s after the pause ends.
        assert time.monotonic() - started >= 0.6
        assert bucket.try_acquire() > 0

    def test_a_shorter_pause_keeps_the_longer_one(self, redis: Redis) -> None:
        bucket = TokenBucket(redis, "rl:test", rate_per_second=10, burst=5)
        bucket.pause(30)
        bucket.pause(1)
        assert bucket.try_acquire() > 29

    def test_processes_sharing_a_bucket_get_at_most_the_budget(
        self, redis: Redis, redis_url: str
    ) -> None:
        rate, burst, seconds, workers = 20.0, 4, 1.5, 4
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        started = redis_now(redis)
        processes = [
            context.Process(
                target=take_until,
                args=(redis_url, "rl:shared", rate, burst, seconds, results),
            )
            for _ in range(workers)
        ]
        for process in processes:
            process.start()
        counts = [results.get(timeout=60) for _ in processes]
        for process in processes:
            process.join(timeout=30)
        elapsed = redis_now(redis) - started
        assert all(count > 0 for count in counts), counts
        # Whatever the number of processes, never more than the burst plus the refill over the run.
        assert sum(counts) <= burst + rate * elapsed, (counts, elapsed)
