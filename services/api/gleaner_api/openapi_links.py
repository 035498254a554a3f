"""OpenAPI links: from each create (or list) to the operations that read and act on what it made.

Clients see the workflow in the document, and the contract test's stateful phase follows the links.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _task_links(stage: str) -> list[tuple[str, str]]:
    return [
        ("GET /api/tasks/{task_id}", "task_id"),
        ("GET /api/tasks/{task_id}/events", "task_id"),
        (f"GET /api/{stage}/async/status/{{task_id}}", "task_id"),
        (f"DELETE /api/{stage}/async/cancel/{{task_id}}", "task_id"),
        (f"POST /api/{stage}/async/retry/{{task_id}}", "task_id"),
    ]


LINKS: dict[str, tuple[str, list[tuple[str, str]], str]] = {
    # operation: (its success status, [(target operation, its path parameter)], the id in its body)
    "POST /api/links": (
        "201",
        [
            ("GET /api/links/{link_id}", "link_id"),
            ("POST /api/parsing/async/single/{link_id}", "link_id"),
        ],
        "/links/0/id",
    ),
    "POST /api/pipelines": ("202", _task_links("parsing"), "/task_id"),
    "POST /api/parsing/async/batch": ("202", _task_links("parsing"), "/task_id"),
    "POST /api/parsing/async/single/{link_id}": (
        "202",
        _task_links("parsing"),
        "/task_id",
    ),
    "POST /api/ai/async/single/{parsed_content_id}": (
        "202",
        _task_links("ai"),
        "/task_id",
    ),
    "POST /api/notion/async/single/{ai_content_id}": (
        "202",
        _task_links("notion"),
        "/task_id",
    ),
    "POST /api/schedules": (
        "201",
        [
            (f"{method} /api/schedules/{{schedule_id}}{suffix}", "schedule_id")
            for method, suffix in (
                ("GET", ""),
                ("POST", "/pause"),
                ("POST", "/resume"),
                ("POST", "/run"),
                ("DELETE", ""),
            )
        ],
        "/id",
    ),
    "POST /api/webhooks": (
        "201",
        [
            ("GET /api/webhooks/{webhook_id}/deliveries", "webhook_id"),
            ("DELETE /api/webhooks/{webhook_id}", "webhook_id"),
        ],
        "/id",
    ),
    "GET /api/tasks": ("200", [("GET /api/tasks/{task_id}", "task_id")], "/items/0/id"),
}
"""OpenAPI links from each create (or list) to what reads and acts on its result: clients see the
workflow, and the contract test's stateful phase follows them."""

CONTENT_LINKS = {
    "parsed": (
        "POST /api/ai/async/single/{parsed_content_id}",
        "parsed_content_id",
        "/parsed/id",
    ),
    "ai": (
        "POST /api/notion/async/single/{ai_content_id}",
        "ai_content_id",
        "/ai/0/id",
    ),
}
"""From a link's detail to the stage that takes what an earlier stage made of it."""


def _operation_id(spec: Mapping[str, Any], label: str) -> str:
    method, path = label.split(" ", 1)
    return str(spec["paths"][path][method.lower()]["operationId"])


def add_links(spec: dict[str, Any]) -> None:
    def link(target: str, parameter: str, pointer: str) -> dict[str, Any]:
        return {
            "operationId": _operation_id(spec, target),
            "parameters": {parameter: f"$response.body#{pointer}"},
        }

    for label, (status, targets, pointer) in LINKS.items():
        method, path = label.split(" ", 1)
        response = spec["paths"][path][method.lower()]["responses"][status]
        response["links"] = {
            _operation_id(spec, target): link(target, parameter, pointer)
            for target, parameter in targets
        }
    detail = spec["paths"]["/api/links/{link_id}"]["get"]["responses"]["200"]
    detail["links"] = {
        _operation_id(spec, target): link(target, parameter, pointer)
        for target, parameter, pointer in CONTENT_LINKS.values()
    }
