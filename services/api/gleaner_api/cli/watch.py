"""Live per-stage progress bars, driven by the task's event stream (GET /api/tasks/{id}/events)."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from gleaner_api.cli.client import ApiClient, ApiError
from gleaner_api.cli.views import finished_at, stage_detail

RECONNECT_ATTEMPTS = 5
"""Times the stream is opened again after it broke (an API restart) before giving up."""

RECONNECT_DELAY_SECONDS = 1.0


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<8}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        console=console,
        auto_refresh=console.is_terminal,  # a pipe gets the final frame once, not a frame per tick
    )


class StageBars:
    """One bar per stage of a task, moved by each `progress` event."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.bars: dict[str, TaskID] = {}

    def update(self, task: dict[str, Any]) -> None:
        total = task["total_items"]
        for stage in task["stages"]:
            if stage not in self.bars:
                self.bars[stage] = self.progress.add_task(stage, total=total, detail="")
            counts = task["stage_progress"][stage]
            self.progress.update(
                self.bars[stage],
                total=total,
                completed=finished_at(counts),
                detail=stage_detail(task, stage),
            )


class PlainLines:
    """Without a terminal (a pipe, a CI log): one line per stage whenever what it says changes."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.said: dict[str, str] = {}

    def update(self, task: dict[str, Any]) -> None:
        for stage in task["stages"]:
            counts = task["stage_progress"][stage]
            detail = stage_detail(task, stage)
            line = f"{stage}: {finished_at(counts)}/{task['total_items']}" + (
                f" — {detail}" if detail else ""
            )
            if self.said.get(stage) != line:
                self.said[stage] = line
                self.console.print(line, highlight=False, soft_wrap=True)


def _events(client: ApiClient, task_id: int) -> Any:
    """The stream's events, opened again when it breaks; ends after the `end` event."""
    failures = 0
    while True:
        try:
            for name, data in client.task_events(task_id):
                failures = 0
                yield name, data
                if name == "end":
                    return
        except ApiError as exc:
            if exc.code != "api_unreachable" or failures >= RECONNECT_ATTEMPTS:
                raise
            failures += 1
        # The stream closed before `end` (or broke): open it again.
        time.sleep(RECONNECT_DELAY_SECONDS)


def watch_task(client: ApiClient, console: Console, task_id: int) -> dict[str, Any]:
    """Show the task's stages moving until it finishes; returns its last state (with every item)."""
    with (
        _progress(console) if console.is_terminal else contextlib.nullcontext()
    ) as progress:
        view = StageBars(progress) if progress is not None else PlainLines(console)
        for name, data in _events(client, task_id):
            if name == "progress":
                view.update(data)
            elif name == "end":
                break
    # the events carried counts and changed items only: read every item once, at the end
    return client.task_with_items(task_id)
