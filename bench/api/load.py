"""Open-loop, fixed-rate HTTP load: request i is due at start + i / rate, whether or not the ones
before it have been answered, and its latency is counted from that due time, not from when it could
be sent. A server that falls behind is charged for the queue it builds (no coordinated omission).

The client is a few lines of HTTP/1.1 over asyncio streams on a fixed set of keep-alive connections:
it runs on the same machine as the server, and an HTTP library's per-request cost (httpx's pool
took 10-30 ms of CPU a request at 400 outstanding) would take the CPU the server is measured with.
A request due while every connection is busy waits in a queue, its clock already running.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_IN_FLIGHT = 400
"""Requests outstanding at once (sent or queued); one due while this many wait is counted as failed
(the server is past saturation, and the load generator must not become the bottleneck)."""

CONNECTIONS = 32
"""Keep-alive connections, opened one by one before the load starts (so that, with several API
processes on one port, each process accepts some)."""


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


class _Connection:
    def __init__(self, host: str, port: int, request: bytes) -> None:
        self.host, self.port, self.request = host, port, request
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def get(self) -> tuple[int, int]:
        """(status, body bytes) of one GET."""
        if self.writer is None:
            await self.open()
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        await self.reader.readexactly(length)
        if close:
            self.close()
        return status, length


async def _run(
    url: str, headers: dict[str, str], rate: float, seconds: float, timeout: float
) -> LoadResult:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname or "127.0.0.1"
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    total = int(rate * seconds)
    latencies: list[float] = []
    sizes: list[int] = []
    failed = 0
    due_times: asyncio.Queue[float | None] = asyncio.Queue()
    busy = 0

    async def connection() -> None:
        nonlocal failed, busy
        conn = _Connection(host, parts.port or 80, request)
        await conn.open()
        opened.set()
        while (due := await due_times.get()) is not None:
            busy += 1
            try:
                status, size = await asyncio.wait_for(conn.get(), timeout)
                if status == 200:
                    latencies.append(time.perf_counter() - due)
                    sizes.append(size)
                else:
                    failed += 1
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                failed += 1
                conn.close()  # a new connection for the next request
            finally:
                busy -= 1
        conn.close()

    workers = []
    for _ in range(CONNECTIONS):
        opened = asyncio.Event()
        workers.append(asyncio.create_task(connection()))
        await opened.wait()
        await asyncio.sleep(0.01)
    start = time.perf_counter() + 0.2
    for i in range(total):
        due = start + i / rate
        pause = due - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        if busy + due_times.qsize() >= MAX_IN_FLIGHT:
            failed += 1
            continue
        due_times.put_nowait(due)
    for _ in workers:
        due_times.put_nowait(None)
    await asyncio.gather(*workers)
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
