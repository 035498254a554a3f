"""`python -m gleaner.devreload --package P [--package Q …] -- COMMAND …`: restart COMMAND on code changes.

Development only: the chart's `devReload` (on in skaffold's dev profile, off by default and refused with
GLEANER_ENV=production) wraps the API and each worker in it. skaffold's sync copies a saved file over the
installed package; the watcher sees it, stops the process warm — SIGTERM, on which a worker lets its
running jobs finish and uvicorn drains its requests — and starts it again, so the next job or request runs
the new code. A process that exits by itself (a syntax error) is started again on the next change.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import watchfiles

from gleaner.logs import configure_logging
from gleaner.settings import load_settings

log = logging.getLogger("gleaner.devreload")


def package_dirs(packages: Sequence[str]) -> list[Path]:
    """Where each package is installed (site-packages in an image, the source folder in a checkout)."""
    dirs = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(f"gleaner.devreload: no package named {name!r}")
        dirs += [Path(location) for location in spec.submodule_search_locations]
    return dirs


def stop(process: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM (warm shutdown), then SIGKILL if it is still running after `timeout` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("devreload_kill pid=%s after %.0f s", process.pid, timeout)
            process.kill()
    return process.wait()


class Reloader:
    def __init__(
        self, command: Sequence[str], dirs: Sequence[Path], stop_timeout: float
    ) -> None:
        self.command = list(command)
        self.dirs = list(dirs)
        self.stop_timeout = stop_timeout
        self.stopping = (
            threading.Event()
        )  # set by our own SIGTERM / SIGINT: stop the child and exit

    def start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(self.command)
        log.info(
            "devreload_started pid=%s command=%s", process.pid, " ".join(self.command)
        )
        return process

    def on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping.set()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        process = self.start()
        log.info("devreload_watching %s", " ".join(str(d) for d in self.dirs))
        changes_seen = watchfiles.watch(
            *self.dirs, watch_filter=watchfiles.PythonFilter(), stop_event=self.stopping
        )
        for changes in changes_seen:
            files = sorted({Path(path).name for _, path in changes})
            log.info(
                "devreload_restart pid=%s changed=%s", process.pid, ",".join(files)
            )
            code = stop(process, self.stop_timeout)
            log.info("devreload_stopped exit_code=%s", code)
            process = self.start()
        return stop(process, self.stop_timeout)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gleaner.devreload", description=__doc__
    )
    parser.add_argument(
        "--package", action="append", required=True, help="a package to watch"
    )
    parser.add_argument(
        "--stop-timeout",
        type=float,
        default=30.0,
        help="seconds the process may take to stop warm before SIGKILL",
    )
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, help="-- then the command to run"
    )
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --")
    settings = load_settings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    if settings.ENV == "production":
        raise SystemExit(
            "gleaner.devreload: refused with GLEANER_ENV=production (development only)"
        )
    return Reloader(command, package_dirs(args.package), args.stop_timeout).run()


if __name__ == "__main__":
    raise SystemExit(main())
