"""Open-loop, fixed-rate HTTP load: request i is due at start + i / rate, whether or not the ones
before it have been answered, and its latency is counted from that due time, not from when it could
be sent. A server that falls behind is charged for the queue it builds (no coordinated omission)."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import httpx

MAX_IN_FLIGHT = 400
"""Requests outstanding at once; one due while this many wait is counted as failed (the server is
past saturation, and the load generator must not become the bottleneck)."""


@dataclass(frozen=True)
class LoadResult:
    rate: float
    sent: int
    ok: int
    failed: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    bytes_per_answer: float


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _run(
    url: str, headers: dict[str, str], rate: float, seconds: float, timeout: float
) -> LoadResult:
    total = int(rate * seconds)
    latencies: list[float] = []
    sizes: list[int] = []
    failed = 0
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        headers=headers, timeout=timeout, limits=limits
    ) as client:
        in_flight = 0

        async def one(due: float) -> None:
            nonlocal failed, in_flight
            in_flight += 1
            try:
                answer = await client.get(url)
                if answer.status_code == 200:
                    latencies.append(time.perf_counter() - due)
                    sizes.append(len(answer.content))
                else:
                    failed += 1
            except httpx.HTTPError:
                failed += 1
            finally:
                in_flight -= 1

        start = time.perf_counter() + 0.2
        tasks = []
        for i in range(total):
            due = start + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            if in_flight >= MAX_IN_FLIGHT:
                failed += 1
                continue
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
    ms = [1000 * x for x in latencies]
    return LoadResult(
        rate=rate,
        sent=total,
        ok=len(ms),
        failed=failed,
        p50_ms=percentile(ms, 0.50),
        p99_ms=percentile(ms, 0.99),
        max_ms=max(ms) if ms else float("nan"),
        bytes_per_answer=statistics.mean(sizes) if sizes else 0.0,
    )


def fixed_rate(
    url: str,
    headers: dict[str, str],
    rate: float,
    seconds: float,
    timeout: float = 10.0,
) -> LoadResult:
    """GET `url` at `rate` per second for `seconds`; latency from each request's due time."""
    return asyncio.run(_run(url, headers, rate, seconds, timeout))
