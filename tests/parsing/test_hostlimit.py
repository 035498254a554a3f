import time

import pytest
from redis import Redis

from gleaner.errors import RetryableError
from gleaner_parsing.hostlimit import HostLimit


class TestHostLimit:
    def test_at_most_limit_slots_per_host(self, redis: Redis) -> None:
        limit = HostLimit(redis, 2, lease_seconds=30, wait_seconds=0)
        first, second = (
            limit.try_acquire("site.example"),
            limit.try_acquire("site.example"),
        )
        assert first
        assert second
        assert limit.try_acquire("site.example") is None
        assert limit.try_acquire("other.example") is not None  # hosts are counted apart
        limit.release("site.example", first)
        assert limit.try_acquire("site.example") is not None

    def test_host_names_are_case_insensitive(self, redis: Redis) -> None:
        limit = HostLimit(redis, 1, lease_seconds=30, wait_seconds=0)
        assert limit.try_acquire("Site.Example")
        assert limit.try_acquire("site.example") is None

    def test_a_killed_holders_slot_frees_when_its_lease_ends(
        self, redis: Redis
    ) -> None:
        limit = HostLimit(redis, 1, lease_seconds=0.2, wait_seconds=0)
        assert limit.try_acquire(
            "site.example"
        )  # never released, as if the worker died
        assert limit.try_acquire("site.example") is None
        time.sleep(0.3)
        assert limit.try_acquire("site.example") is not None

    def test_slot_releases_on_exit_and_busy_host_is_retryable(
        self, redis: Redis
    ) -> None:
        limit = HostLimit(redis, 1, lease_seconds=30, wait_seconds=0.1)
        with limit.slot("site.example"):
            assert limit.holders("site.example") == 1
            with pytest.raises(RetryableError) as caught, limit.slot("site.example"):
                pass
            assert caught.value.code == "host_busy"
        assert limit.holders("site.example") == 0

    def test_slot_is_released_when_the_request_fails(self, redis: Redis) -> None:
        limit = HostLimit(redis, 1, lease_seconds=30, wait_seconds=0)
        with pytest.raises(RuntimeError), limit.slot("site.example"):
            raise RuntimeError("fetch failed")
        assert limit.holders("site.example") == 0
