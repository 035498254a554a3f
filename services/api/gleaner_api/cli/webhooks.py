"""`gleaner webhooks …`: register endpoints, read their delivery log, delete them."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from gleaner_api.cli.client import ApiClient
from gleaner_api.cli.config import load_config

webhooks_app = typer.Typer(help="Signed POSTs to your URL when a task (or item) ends.")
console = Console(highlight=False)

IdArg = Annotated[int, typer.Argument(help="the webhook's id")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the API's JSON")]


def _client(ctx: typer.Context) -> ApiClient:
    given = ctx.find_root().obj or {}
    return ApiClient(load_config(given.get("api_url"), given.get("api_key")))


def _print_json(body: Any) -> None:
    sys.stdout.write(json.dumps(body, indent=2, sort_keys=True) + "\n")


@webhooks_app.command("create")
def create(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="where to POST (public http(s) address)")],
    task: Annotated[
        int | None, typer.Option(help="only this task's events (default: every task)")
    ] = None,
    per_item: Annotated[
        bool, typer.Option("--per-item", help="also one event per item that ends")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Register an endpoint and print its signing secret (shown only this once)."""
    with _client(ctx) as client:
        made = client.post(
            "/api/webhooks", {"url": url, "task_id": task, "per_item": per_item}
        )
    if as_json:
        _print_json(made)
        return
    console.print(f"webhook {made['id']} → {made['url']}")
    console.print(
        f"secret (shown once; verify webhook-signature with it): {made['secret']}"
    )


@webhooks_app.command("list")
def list_webhooks(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Your endpoints; a disabled one says why (its receiver answered 410)."""
    with _client(ctx) as client:
        body = client.get("/api/webhooks", page_size=200)
    if as_json:
        _print_json(body)
        return
    table = Table(title="webhooks", title_justify="left")
    for column in ("id", "url", "events", "state"):
        table.add_column(column)
    for hook in body["items"]:
        scope = f"task {hook['task_id']}" if hook["task_id"] else "every task"
        table.add_row(
            str(hook["id"]),
            hook["url"],
            scope + (", per item" if hook["per_item"] else ""),
            f"disabled: {hook['disabled_reason']}" if hook["disabled_at"] else "active",
        )
    console.print(table)


@webhooks_app.command("deliveries")
def deliveries(ctx: typer.Context, webhook_id: IdArg, as_json: JsonOpt = False) -> None:
    """The delivery log: each event's state, its attempts with status codes, the next try."""
    with _client(ctx) as client:
        body = client.get(f"/api/webhooks/{webhook_id}/deliveries", page_size=200)
    if as_json:
        _print_json(body)
        return
    table = Table(title=f"deliveries of webhook {webhook_id}", title_justify="left")
    for column in ("id", "event", "state", "attempts", "next try"):
        table.add_column(column)
    for delivery in body["items"]:
        tries = ", ".join(str(a["status_code"] or a["error"]) for a in delivery["log"])
        table.add_row(
            str(delivery["id"]),
            f"{delivery['event']} {delivery['event_key']}",
            delivery["state"],
            tries or "-",
            str(delivery["next_attempt_at"] or "-"),
        )
    console.print(table)


@webhooks_app.command("delete")
def delete(ctx: typer.Context, webhook_id: IdArg) -> None:
    """Delete an endpoint and its delivery log."""
    with _client(ctx) as client:
        client.request("DELETE", f"/api/webhooks/{webhook_id}")
    console.print(f"webhook {webhook_id} deleted")
