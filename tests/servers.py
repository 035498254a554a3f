"""Real servers the tests start for themselves: a private redis-server, free ports, process cleanup."""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

from gleaner_api.standalone import find_redis_server, wait_for_redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis_server(
    workdir: Path, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server on 127.0.0.1:<port> that keeps nothing on disk; returns (process, url)."""
    port = port or free_port()
    process = subprocess.Popen(
        [
            find_redis_server(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    wait_for_redis(url)
    return process, url


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)
