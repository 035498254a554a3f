"""`gleaner schedules …`: create, list, show, pause, resume, run now and delete schedules."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from gleaner_api.cli.client import ApiClient
from gleaner_api.cli.config import load_config

schedules_app = typer.Typer(help="Pipelines fired on a cron expression or an interval.")
console = Console(highlight=False)

IdArg = Annotated[int, typer.Argument(help="the schedule's id")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the API's JSON")]


def _client(ctx: typer.Context) -> ApiClient:
    given = (ctx.find_root().obj or {}) if ctx.find_root() else {}
    return ApiClient(load_config(given.get("api_url"), given.get("api_key")))


def _timing(schedule: dict[str, Any]) -> str:
    if schedule["cron"]:
        return f"cron {schedule['cron']} ({schedule['timezone']})"
    return f"every {schedule['interval_seconds']} s"


def _runs(schedule: dict[str, Any]) -> str:
    if schedule.get("feed_url"):
        return f"feed {schedule['feed_url']}"
    pipeline = schedule["pipeline"]
    count = len(pipeline.get("urls") or []) + len(pipeline.get("link_ids") or [])
    return f"{count} link{'s' if count != 1 else ''}"


def _outcome(outcome: str, task_id: Any, error: Any) -> str:
    return {
        "created": f"task {task_id}",
        "no_new_entries": "no new entries",
        "fetching": "reading the feed",
        "fetched": "making the task",
    }.get(outcome, f"failed: {error}")


def _last(schedule: dict[str, Any]) -> str:
    if not schedule["last_outcome"]:
        return "never fired"
    what = _outcome(
        schedule["last_outcome"], schedule["last_task_id"], schedule["last_error"]
    )
    return f"{what} ({schedule['last_fired_at']})"


def schedules_table(schedules: list[dict[str, Any]]) -> Table:
    table = Table(title="schedules", title_justify="left")
    for column in ("id", "name", "runs", "timing", "next firing", "last firing"):
        table.add_column(column, overflow="fold")
    for schedule in schedules:
        table.add_row(
            str(schedule["id"]),
            schedule["name"],
            _runs(schedule),
            _timing(schedule),
            "paused" if schedule["paused"] else str(schedule["next_fire_at"]),
            _last(schedule),
        )
    return table


def _show(body: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(body, indent=2, sort_keys=True) + "\n")
    else:
        console.print(schedules_table([body]))
        for firing in body.get("firings") or []:
            what = _outcome(firing["outcome"], firing["task_id"], firing["error"])
            if firing.get("new_entries"):
                what += f" ({firing['new_entries']} new entries)"
            manual = " (run now)" if firing["manual"] else ""
            console.print(f"  {firing['tick_at']}{manual}: {what}")


@schedules_app.command("list")
def list_schedules(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every schedule with its next firing and the outcome of its last one."""
    with _client(ctx) as client:
        body = client.get("/api/schedules", page_size=200)
    if as_json:
        sys.stdout.write(json.dumps(body, indent=2, sort_keys=True) + "\n")
    else:
        console.print(schedules_table(body["items"]))


@schedules_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="a name for it")],
    urls: Annotated[
        list[str] | None,
        typer.Argument(help="the links each firing runs (none with --feed)"),
    ] = None,
    feed: Annotated[
        str | None,
        typer.Option(help="or: an RSS/Atom feed URL; each firing runs its new entries"),
    ] = None,
    cron: Annotated[
        str | None, typer.Option(help='cron expression, e.g. "0 7 * * 1-5"')
    ] = None,
    timezone: Annotated[str, typer.Option(help="IANA zone of --cron")] = "UTC",
    every: Annotated[
        int | None, typer.Option(help="or: fire every this many seconds")
    ] = None,
    stages: Annotated[
        str, typer.Option(help="comma-separated prefix of parsing,ai,notion")
    ] = "parsing,ai,notion",
    priority: Annotated[str, typer.Option(help="high, normal or low")] = "normal",
    as_json: JsonOpt = False,
) -> None:
    """Create a schedule that runs the links (or a feed's new entries) through the stages on each firing."""
    pipeline: dict[str, Any] = {
        "stages": [s.strip() for s in stages.split(",") if s.strip()],
        "priority": priority,
    }
    if urls:
        pipeline["urls"] = urls
    body = {
        "name": name,
        "cron": cron,
        "timezone": timezone,
        "interval_seconds": every,
        "feed_url": feed,
        "pipeline": pipeline,
    }
    with _client(ctx) as client:
        _show(client.post("/api/schedules", body), as_json)


@schedules_app.command("show")
def show(ctx: typer.Context, schedule_id: IdArg, as_json: JsonOpt = False) -> None:
    """One schedule and its latest firings."""
    with _client(ctx) as client:
        _show(client.get(f"/api/schedules/{schedule_id}"), as_json)


@schedules_app.command("pause")
def pause(ctx: typer.Context, schedule_id: IdArg) -> None:
    """Stop firing until resumed."""
    with _client(ctx) as client:
        _show(client.post(f"/api/schedules/{schedule_id}/pause"), False)


@schedules_app.command("resume")
def resume(ctx: typer.Context, schedule_id: IdArg) -> None:
    """Fire again from the next tick."""
    with _client(ctx) as client:
        _show(client.post(f"/api/schedules/{schedule_id}/resume"), False)


@schedules_app.command("run")
def run_now(ctx: typer.Context, schedule_id: IdArg) -> None:
    """Fire once now."""
    with _client(ctx) as client:
        firing = client.post(f"/api/schedules/{schedule_id}/run")
    if firing["outcome"] == "created":
        console.print(f"schedule {schedule_id}: task {firing['task_id']} created")
    elif firing["outcome"] == "fetching":
        console.print(
            f"schedule {schedule_id}: reading the feed; `gleaner schedules show {schedule_id}` "
            "shows the task it makes"
        )
    else:
        console.print(f"schedule {schedule_id}: firing failed: {firing['error']}")


@schedules_app.command("delete")
def delete(ctx: typer.Context, schedule_id: IdArg) -> None:
    """Delete it; the tasks it made stay."""
    with _client(ctx) as client:
        client.request("DELETE", f"/api/schedules/{schedule_id}")
    console.print(f"schedule {schedule_id} deleted")
