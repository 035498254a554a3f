"""Job functions written for the tests: importable by dotted path, as RQ requires, run by real workers.

Each goes through the same `execute_item` plumbing as the real stages.
"""

from __future__ import annotations

import time
from typing import Any

from gleaner.errors import PermanentError, RetryableError
from gleaner.execution import ItemContext, execute_item
from gleaner.models import Link


def _succeed(ctx: ItemContext) -> dict[str, Any]:
    return {"ok": True}


def succeed(item_id: int) -> dict[str, Any]:
    return execute_item("parsing", item_id, _succeed)


def _flaky(ctx: ItemContext) -> dict[str, Any]:
    # Fails on attempts 1 and 2, succeeds on the third.
    if ctx.attempt < 3:
        raise RetryableError(
            f"transient failure on attempt {ctx.attempt}", code="http_503"
        )
    return {"attempt": ctx.attempt}


def fail_twice_then_succeed(item_id: int) -> dict[str, Any]:
    return execute_item("parsing", item_id, _flaky)


def _permanent(ctx: ItemContext) -> None:
    raise PermanentError("the page answered 404", code="http_404")


def fail_permanently(item_id: int) -> dict[str, Any]:
    return execute_item("parsing", item_id, _permanent)


def _slow(ctx: ItemContext) -> None:
    time.sleep(5)  # every test that uses it sets a shorter job timeout


def sleep_past_timeout(item_id: int) -> dict[str, Any]:
    return execute_item("parsing", item_id, _slow)


def _checkpointing(ctx: ItemContext) -> dict[str, Any]:
    # Works in small steps and checks for cancellation between them, as real stages do.
    for _ in range(200):
        ctx.checkpoint()
        time.sleep(0.05)
    return {"steps": 200}


def slow_with_checkpoints(item_id: int) -> dict[str, Any]:
    return execute_item("parsing", item_id, _checkpointing)


def _sleep_configured(ctx: ItemContext) -> dict[str, Any]:
    # Sleeps the task's config["sleep_seconds"] (default 1 s) in 0.1 s steps, checking for cancellation.
    seconds = float(ctx.task.config.get("sleep_seconds", 1.0))
    steps = max(1, round(seconds / 0.1))
    for _ in range(steps):
        ctx.checkpoint()
        time.sleep(seconds / steps)
    return {"slept": seconds}


def sleep_configured(item_id: int) -> dict[str, Any]:
    return execute_item("parsing", item_id, _sleep_configured)


def _count_effect(ctx: ItemContext) -> dict[str, Any]:
    # The effect a duplicate delivery must not repeat: one INCR per body run.
    ctx.runtime.redis.incr(f"test:effects:{ctx.item.id}")
    time.sleep(0.02)
    return {"counted": True}


def count_effect(item_id: int) -> dict[str, Any]:
    return execute_item("parsing", item_id, _count_effect)


def _fail_bad_links(ctx: ItemContext) -> dict[str, Any]:
    # Links whose URL says "bad" fail for good; the others succeed: a batch with mixed outcomes.
    link = ctx.session.get_one(Link, ctx.item.link_id)
    if "bad" in link.url:
        raise PermanentError("this link is bad", code="http_410")
    return {"ok": True}


def fail_bad_links(item_id: int) -> dict[str, Any]:
    return execute_item("parsing", item_id, _fail_bad_links)


def _crash(ctx: ItemContext) -> None:
    raise ValueError("a bug, not a classified failure")


def crash(item_id: int) -> dict[str, Any]:
    return execute_item("parsing", item_id, _crash)


def _record_lane(ctx: ItemContext) -> dict[str, Any]:
    # The order jobs ran in, by their task's lane: what the lane tests compare.
    ctx.runtime.redis.rpush("test:lanes", str(ctx.task.config["priority"]))
    return {"ok": True}


def record_lane(item_id: int) -> dict[str, Any]:
    return execute_item("parsing", item_id, _record_lane)
