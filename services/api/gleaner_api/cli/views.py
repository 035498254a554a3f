"""How API answers look in a terminal: rich tables for tasks, items, workers and queues."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.table import Table
from rich.text import Text

STATUS_STYLES = {
    "completed": "green",
    "queued": "cyan",
    "running": "yellow",
    "waiting": "dim",
    "failed": "red",
    "partially_failed": "red",
    "cancelled": "magenta",
}

FINISHED = {"completed", "failed", "partially_failed", "cancelled"}

COUNTS = ("done", "queued", "running", "waiting", "failed", "cancelled", "skipped")
"""The per-stage counts of `stage_progress`, in the order the stages table shows them."""


def retry_note(item: dict[str, Any], now: datetime | None = None) -> str | None:
    """ "retrying in 28 s (attempt 2 of 3): dns_error — <message>" for an item waiting to be tried again."""
    if item["status"] != "queued" or not item["attempts"] or not item.get("error_code"):
        return None
    due = item.get("retry_at")
    if due:
        seconds = (
            datetime.fromisoformat(str(due)) - (now or datetime.now(UTC))
        ).total_seconds()
        when = f"retrying in {max(0, round(seconds))} s"
    else:
        when = "retrying now"
    limit = item.get("max_attempts")
    attempt = f"attempt {item['attempts'] + 1}" + (f" of {limit}" if limit else "")
    return f"{when} ({attempt}): {item['error_code']} — {item.get('error_message') or ''}".rstrip(
        " —"
    )


def styled(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def finished_at(counts: dict[str, int]) -> int:
    """Items that will not move at this stage any more."""
    return counts["done"] + counts["failed"] + counts["cancelled"] + counts["skipped"]


def first_position(task: dict[str, Any], stage: str) -> int | None:
    """The queue position of the stage's item nearest the front (0 = next), if any is queued."""
    places = [
        item["position"]
        for item in task.get("items") or []
        if item["stage"] == stage
        and item["status"] == "queued"
        and item["position"] is not None
    ]
    return min(places) if places else None


def stage_detail(task: dict[str, Any], stage: str) -> str:
    counts = task["stage_progress"][stage]
    parts = []
    if counts["running"]:
        parts.append(f"{counts['running']} running")
    if counts["queued"]:
        place = first_position(task, stage)
        where = f" (first is #{place + 1} in line)" if place is not None else ""
        parts.append(f"{counts['queued']} queued{where}")
        retrying = sorted(
            (
                item
                for item in task.get("items") or []
                if item["stage"] == stage and retry_note(item)
            ),
            key=lambda item: str(item.get("retry_at") or ""),
        )
        if retrying:  # the next one due, with its reason
            more = f" (+{len(retrying) - 1} more)" if len(retrying) > 1 else ""
            parts.append(f"{retry_note(retrying[0])}{more}")
    if counts["waiting"]:
        parts.append(f"{counts['waiting']} waiting")
    for key in ("failed", "cancelled", "skipped"):
        if counts[key]:
            parts.append(f"{counts[key]} {key}")
    return ", ".join(parts)


def task_line(task: dict[str, Any]) -> Text:
    line = Text(f"task {task['id']} ({task['type']}) ")
    line.append_text(styled(task["status"]))
    line.append(
        f": {task['completed_items']} done, {task['failed_items']} failed, {task['cancelled_items']} cancelled"
        f" of {task['total_items']} ({task['progress']}%)"
    )
    if task["status"] not in FINISHED and task.get("eta_seconds"):
        line.append(f", about {task['eta_seconds']:.0f} s left")
    return line


def stages_table(task: dict[str, Any]) -> Table:
    table = Table(title="stages", title_justify="left")
    table.add_column("stage")
    for column in COUNTS:
        table.add_column(column, justify="right")
    for stage in task["stages"]:
        counts = task["stage_progress"][stage]
        table.add_row(stage, *(str(counts[k]) for k in COUNTS))
    return table


def outcome(item: dict[str, Any]) -> str:
    """What became of an item, and its trace when the API links one."""
    told = stage_outcome(item)
    if item.get("trace_url"):
        return (
            f"{told}\ntrace: {item['trace_url']}"
            if told
            else f"trace: {item['trace_url']}"
        )
    return told


def stage_outcome(item: dict[str, Any]) -> str:
    """Its Notion page (or the dry-run marker), its failure, or where it is."""
    if item["status"] == "failed":
        return f"{item['error_code']}: {item['error_message']}"
    notion = (item.get("result_data") or {}).get("notion") or {}
    if item["status"] == "completed" and notion:
        if notion.get("page_url"):
            return str(notion["page_url"])
        return (
            "Notion: dry run (no token, no page made)"
            if notion.get("state") == "dry_run"
            else "Notion: filed"
        )
    note = retry_note(item)
    if note:
        return note
    if item["status"] == "queued" and item.get("position") is not None:
        return f"#{item['position'] + 1} in the {item['stage']} queue"
    return ""


def items_table(
    items: list[dict[str, Any]], urls: dict[int, str], title: str = "items"
) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("item", justify="right")
    table.add_column("link", overflow="fold")
    table.add_column("stage")
    table.add_column("status")
    table.add_column("tries", justify="right")
    table.add_column("result", overflow="fold")
    for item in items:
        link = (
            urls.get(item["link_id"], f"link {item['link_id']}")
            if item.get("link_id")
            else item["item_type"]
        )
        table.add_row(
            str(item["id"]),
            link,
            item["stage"],
            styled(item["status"]),
            str(item["attempts"]),
            outcome(item),
        )
    return table


def tasks_table(page: dict[str, Any]) -> Table:
    table = Table(
        title=f"tasks (page {page['page']}, {page['total']} in all)",
        title_justify="left",
    )
    for column in (
        "id",
        "type",
        "status",
        "progress",
        "items",
        "failed",
        "stages",
        "created",
    ):
        table.add_column(
            column,
            justify="right"
            if column in ("id", "progress", "items", "failed")
            else "left",
        )
    for task in page["items"]:
        table.add_row(
            str(task["id"]),
            task["type"],
            styled(task["status"]),
            f"{task['progress']}%",
            str(task["total_items"]),
            str(task["failed_items"]),
            " → ".join(task["stages"]),
            str(task["created_at"])[:19].replace("T", " "),
        )
    return table


def workers_table(body: dict[str, Any]) -> Table:
    table = Table(title=f"workers ({body['total_workers']})", title_justify="left")
    for column in (
        "name",
        "queues",
        "state",
        "current job",
        "done",
        "failed",
        "last heartbeat",
    ):
        table.add_column(
            column, justify="right" if column in ("done", "failed") else "left"
        )
    for worker in body["workers"]:
        table.add_row(
            worker["name"],
            ", ".join(worker["queues"]),
            worker["state"],
            worker["current_job"] or "",
            str(worker["successful_job_count"]),
            str(worker["failed_job_count"]),
            str(worker["last_heartbeat"] or "")[:19].replace("T", " "),
        )
    return table


def queues_table(body: dict[str, Any]) -> Table:
    table = Table(title="queues", title_justify="left")
    for column in (
        "queue",
        "stage",
        "waiting",
        "running",
        "scheduled",
        "finished",
        "failed",
    ):
        table.add_column(
            column, justify="left" if column in ("queue", "stage") else "right"
        )
    for name, queue in body["queues"].items():
        table.add_row(
            name,
            queue["stage"],
            str(queue["count"]),
            str(queue["started_job_registry"]),
            str(queue["scheduled_job_registry"]),
            str(queue["finished_job_registry"]),
            str(queue["failed_job_registry"]),
        )
    strategies = body.get("retry_strategies") or {}
    table.caption = "retries: " + "; ".join(
        f"{stage} {_strategy_text(strategy)}" for stage, strategy in strategies.items()
    )
    return table


def _strategy_text(strategy: dict[str, Any]) -> str:
    if strategy["backoff"] == "fixed":
        timing = "delays " + ",".join(str(d) for d in strategy["delays_seconds"])
    else:
        timing = f"exponential from {strategy['base_seconds']:g}s, cap {strategy['max_seconds']:g}s"
    on = strategy["retry_on"]
    codes = "all" if isinstance(on, str) else ",".join(on)
    return f"{strategy['max_attempts']}x, {timing}, on {codes}"
