"""`gleaner`: submit links and watch them move, from a terminal.

Exit codes: 0 done; 1 the API answered an error or could not be reached; 2 bad usage; 3 the task
finished with failed or cancelled items.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from gleaner_api.cli.client import ApiClient, ApiError
from gleaner_api.cli.config import ConfigError, load_config
from gleaner_api.cli.schedules import schedules_app
from gleaner_api.cli.views import (
    items_table,
    queues_table,
    stages_table,
    task_line,
    tasks_table,
    workers_table,
)
from gleaner_api.cli.watch import watch_task
from gleaner_api.cli.webhooks import webhooks_app

EXIT_API_ERROR = 1
EXIT_TASK_FAILED = 3

ITEMS_SHOWN = 20
"""Above this many items a finished task lists only its failed ones."""

LINKS_LOOKED_UP = 50
"""Link URLs fetched (one request each) to label items; others show as `link <id>`."""

app = typer.Typer(
    name="gleaner",
    help="Submit links to Gleaner and watch them reach Notion. Reads GLEANER_API_URL and GLEANER_API_KEY, "
    "or ~/.config/gleaner/config.toml (api_url, api_key).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
keys_app = typer.Typer(
    help="API keys (written straight to the database: run where GLEANER_DATABASE_URL points)."
)
app.add_typer(keys_app, name="keys")
app.add_typer(schedules_app, name="schedules")
app.add_typer(webhooks_app, name="webhooks")

console = Console(highlight=False)

TaskArg = Annotated[int, typer.Argument(help="the task id", min=1)]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="print the API's JSON instead of tables")
]


@app.callback()
def options(
    ctx: typer.Context,
    api_url: Annotated[
        str | None, typer.Option(help="the API's base URL (env GLEANER_API_URL)")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="an API key (env GLEANER_API_KEY)")
    ] = None,
) -> None:
    ctx.obj = {"api_url": api_url, "api_key": api_key}


def _client(ctx: typer.Context) -> ApiClient:
    given = ctx.obj or {}
    return ApiClient(load_config(given.get("api_url"), given.get("api_key")))


def _print_json(body: Any) -> None:
    sys.stdout.write(json.dumps(body, indent=2, sort_keys=True) + "\n")


def _link_urls(
    client: ApiClient, items: list[dict[str, Any]], known: dict[int, str] | None = None
) -> dict[int, str]:
    """URLs of the items' links, failed ones first: the task view has only link ids."""
    urls = dict(known or {})
    wanted = sorted(
        {i["link_id"] for i in items if i.get("link_id")},
        key=lambda lid: (
            lid not in {i["link_id"] for i in items if i["status"] == "failed"}
        ),
    )
    for link_id in [lid for lid in wanted if lid not in urls][:LINKS_LOOKED_UP]:
        urls[link_id] = client.get(f"/api/links/{link_id}")["url"]
    return urls


def _report(
    client: ApiClient, task: dict[str, Any], urls: dict[int, str] | None = None
) -> int:
    """Print how a finished task ended; the exit code says whether everything got through."""
    items = task.get("items") or []
    console.print(task_line(task))
    shown = (
        items
        if len(items) <= ITEMS_SHOWN
        else [i for i in items if i["status"] == "failed"]
    )
    if shown:
        title = "items" if shown is items else "failed items"
        console.print(items_table(shown, _link_urls(client, shown, urls), title))
    failed = [i for i in items if i["status"] == "failed"]
    if failed:
        console.print(
            f"{len(failed)} failed; to try them again: gleaner retry {task['id']} --wait",
            style="red",
        )
    ok = task["status"] == "completed"
    return 0 if ok else EXIT_TASK_FAILED


def _stages(value: str) -> list[str]:
    stages = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [s for s in stages if s not in ("parsing", "ai", "notion")]
    if unknown or not stages:
        raise typer.BadParameter(
            f"stages are parsing, ai, notion (comma-separated); got {value!r}"
        )
    return stages


@app.command()
def submit(
    ctx: typer.Context,
    urls: Annotated[
        list[str],
        typer.Argument(
            help="links to process; `-` reads them from standard input, one a line"
        ),
    ],
    stages: Annotated[
        str, typer.Option(help="comma-separated prefix of parsing,ai,notion")
    ] = "parsing,ai,notion",
    database_id: Annotated[
        str | None, typer.Option(help="the Notion database (default: the server's)")
    ] = None,
    priority: Annotated[
        str, typer.Option(help="high, normal or low: the lane of the stage queues")
    ] = "normal",
    after: Annotated[
        list[int] | None,
        typer.Option(
            help="a task to wait for (repeat for several): start when it ends"
        ),
    ] = None,
    condition: Annotated[
        str,
        typer.Option(help="completed (every --after task completed) or finished"),
    ] = "completed",
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait", help="watch the stages live until the task ends"
        ),
    ] = False,
) -> None:
    """Start a pipeline over the links."""
    given = [
        line.strip()
        for url in urls
        for line in (sys.stdin.read().splitlines() if url == "-" else [url])
    ]
    body: dict[str, Any] = {
        "urls": [u for u in given if u],
        "stages": _stages(stages),
        "priority": priority,
    }
    if after:
        body |= {"after": after, "condition": condition}
    if database_id:
        body["notion"] = {"database_id": database_id}
    with _client(ctx) as client:
        queued = client.post("/api/pipelines", body)
        console.print(
            f"task {queued['task_id']}: {queued['message']} ({' → '.join(queued['stages'])})"
        )
        if not wait:
            console.print(f"watch it with: gleaner status {queued['task_id']} --watch")
            return
        urls_by_link = {link["id"]: link["url"] for link in queued.get("links") or []}
        task = watch_task(client, console, queued["task_id"])
        raise typer.Exit(_report(client, task, urls_by_link))


@app.command()
def status(
    ctx: typer.Context,
    task_id: TaskArg,
    watch: Annotated[
        bool, typer.Option("--watch", help="follow it live until it ends")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a task: its stages and items, where each one is, and why any failed."""
    with _client(ctx) as client:
        if watch:
            raise typer.Exit(_report(client, watch_task(client, console, task_id)))
        task = client.task_with_items(task_id)
        if as_json:
            _print_json(task)
            return
        console.print(task_line(task))
        console.print(stages_table(task))
        items = task.get("items") or []
        if items:
            console.print(items_table(items, _link_urls(client, items)))


@app.command()
def retry(
    ctx: typer.Context,
    task_id: TaskArg,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait", help="watch the retried items until the task ends"
        ),
    ] = False,
) -> None:
    """Queue a task's failed items again, at the stage they failed in."""
    with _client(ctx) as client:
        answer = client.post(f"/api/parsing/async/retry/{task_id}")
        console.print(f"task {task_id}: {answer['message']} (now {answer['status']})")
        if wait and answer["retried_count"]:
            raise typer.Exit(_report(client, watch_task(client, console, task_id)))


@app.command()
def cancel(
    ctx: typer.Context,
    task_id: TaskArg,
    dependants: Annotated[
        str,
        typer.Option(help="tasks waiting for it: cancel them too, or release them"),
    ] = "cancel",
) -> None:
    """Cancel a task: queued items leave the queue, running ones stop at their next checkpoint."""
    with _client(ctx) as client:
        answer = client.delete(
            f"/api/parsing/async/cancel/{task_id}", dependants=dependants
        )
        console.print(f"task {task_id}: {answer['message']} (now {answer['status']})")
        for key, verb in (
            ("cancelled_dependants", "cancelled"),
            ("released_dependants", "released"),
        ):
            if answer.get(key):
                console.print(
                    f"waiting tasks {verb}: {', '.join(map(str, answer[key]))}"
                )


@app.command()
def tasks(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            help="waiting, queued, running, completed, failed, partially_failed, cancelled"
        ),
    ] = None,
    type: Annotated[
        str | None, typer.Option("--type", help="pipeline, parsing, ai, notion")
    ] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    page_size: Annotated[int, typer.Option(min=1, max=200)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List your tasks, newest first."""
    with _client(ctx) as client:
        body = client.get(
            "/api/tasks", status=status, type=type, page=page, page_size=page_size
        )
    if as_json:
        _print_json(body)
    else:
        console.print(tasks_table(body))


@app.command()
def workers(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The workers listening on the stage queues."""
    with _client(ctx) as client:
        body = client.get("/api/monitoring/workers")
    _print_json(body) if as_json else console.print(workers_table(body))


@app.command()
def queues(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Jobs waiting, running and done in each stage queue."""
    with _client(ctx) as client:
        body = client.get("/api/monitoring/queues")
    _print_json(body) if as_json else console.print(queues_table(body))


@keys_app.command("create")
def create_key(
    owner: Annotated[
        str | None, typer.Option(help="whose key (default: GLEANER_BOOTSTRAP_OWNER)")
    ] = None,
    name: Annotated[str, typer.Option(help="a label for the key")] = "cli",
    operator: Annotated[
        bool, typer.Option(help="may read every tenant's queues and workers")
    ] = False,
) -> None:
    """Create an API key and print it once (it is stored only as a hash)."""
    from gleaner_api.cli.keys import create_key_in_database

    sys.stdout.write(create_key_in_database(name, owner, operator=operator) + "\n")


def main() -> None:
    """The console script: API errors become one line on stderr and a non-zero exit."""
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        app()
    except (ApiError, ConfigError) as exc:
        errors.print(f"error: {exc}", markup=False)
        raise SystemExit(EXIT_API_ERROR) from None
    except KeyboardInterrupt:
        errors.print(
            "stopped watching; the task goes on (gleaner status TASK --watch)",
            markup=False,
        )
        raise SystemExit(130) from None
