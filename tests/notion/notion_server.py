"""A local Notion API for the tests: a real HTTP server (a thread) that follows the documented API.

Covered, as of Notion-Version 2025-09-03: GET /v1/databases/{id} (with `data_sources`),
GET /v1/data_sources/{id}, POST /v1/pages (parent `data_source_id`), PATCH /v1/blocks/{id}/children,
POST /v1/data_sources/{id}/query with a URL-property filter. Like Notion it checks the bearer token and
the Notion-Version header, answers errors as {"object": "error", "status", "code", "message",
"request_id"}, refuses rich text over 2,000 characters (UTF-16 units) or 100 objects, more than 100
children, multi_select option names with commas, unknown properties or wrong types, bodies over 500 KB,
and answers 429 rate_limited with Retry-After when requests come faster than its budget (3 per second by
default, across all clients). It counts pages per source URL, and can be told to fail or hold requests.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VERSION = "2025-09-03"
MAX_BODY_BYTES = 500 * 1024


class NotionError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = (
            status,
            code,
            message,
            headers or {},
        )


@dataclass
class Fault:
    """Answer the next `count` matching requests with `status`; `after_apply`: do the work first."""

    method: str
    path: str  # a regular expression matched against the path
    status: int
    code: str
    count: int = 1
    after_apply: bool = False
    retry_after: int | None = None
    raw_body: str | None = (
        None  # e.g. an HTML page from a proxy instead of Notion's JSON
    )


@dataclass
class Database:
    id: str
    data_source_id: str
    properties: dict[str, str]  # name → type


@dataclass
class State:
    token: str
    rate: float
    burst: float
    databases: dict[str, Database] = field(default_factory=dict)
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: Counter[str] = field(
        default_factory=Counter
    )  # "METHOD /path-kind" → count
    statuses: Counter[int] = field(default_factory=Counter)
    served_at: list[float] = field(
        default_factory=list
    )  # monotonic times of requests let through
    faults: list[Fault] = field(default_factory=list)
    tokens: float = 0.0
    refilled: float = field(default_factory=time.monotonic)
    hold_creates: int = (
        0  # creates whose answer waits for `release` after the page exists
    )
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    held_urls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class NotionServer:
    """Start with `NotionServer(...).start()`; `url` is the base URL to give notion-client."""

    def __init__(
        self, token: str = "secret_test", rate: float = 3.0, burst: float = 3.0
    ) -> None:
        self.state = State(token=token, rate=rate, burst=burst, tokens=burst)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> NotionServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.state.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def add_database(self, properties: dict[str, str] | None = None) -> Database:
        database = Database(
            id=str(uuid.uuid4()),
            data_source_id=str(uuid.uuid4()),
            properties=properties
            or {
                "Name": "title",
                "Source URL": "url",
                "Keywords": "multi_select",
                "Tags": "multi_select",
                "Published": "date",
                "Summary": "rich_text",
                "Rating": "number",
            },
        )
        with self.state.lock:
            self.state.databases[database.id] = database
        return database

    def fail(self, fault: Fault) -> None:
        with self.state.lock:
            self.state.faults.append(fault)

    def pages_by_url(self) -> Counter[str]:
        """How many pages exist per source URL (any URL-type property)."""
        with self.state.lock:
            return Counter(page["_source_url"] for page in self.state.pages.values())

    def blocks_of(self, page_id: str) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.children.get(page_id, []))


class _Handler(BaseHTTPRequestHandler):
    state: State
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: Any) -> None:
        return  # quiet: the tests assert on counters, not logs

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        try:
            self._check_headers()
            with self.state.lock:
                self.state.requests[
                    f"{method} {path.strip('/').split('/')[1:2][0] if path.count('/') > 1 else ''}"
                ] += 1
            self._take_token()
            fault = self._fault(method, path)
            if fault is not None and not fault.after_apply:
                self._raise_fault(fault)
            if len(raw) > MAX_BODY_BYTES:
                raise NotionError(
                    400,
                    "validation_error",
                    f"Request body too large ({len(raw)} bytes; limit 500KB).",
                )
            try:
                body = json.loads(raw) if raw else {}
            except ValueError as exc:
                raise NotionError(
                    400, "invalid_json", "Error parsing JSON body."
                ) from exc
            status, result = _route(self.state, method, path, body)
            if fault is not None:
                self._raise_fault(fault)
            self._send(status, result)
        except NotionError as error:
            self._send(
                error.status,
                {"object": "error", "status": error.status, "code": error.code, "message": error.message,
                 "request_id": str(uuid.uuid4())},
                error.headers,
            )  # fmt: skip
        except _RawFault as raw_fault:
            self._send_raw(raw_fault.status, raw_fault.body)

    def _check_headers(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {self.state.token}":
            raise NotionError(401, "unauthorized", "API token is invalid.")
        version = self.headers.get("Notion-Version")
        if not version:
            raise NotionError(
                400,
                "missing_version",
                "Notion-Version header failed validation: Notion-Version header should be defined.",
            )
        if version != VERSION:
            raise NotionError(
                400,
                "validation_error",
                f"This test server speaks Notion-Version {VERSION}, not {version}.",
            )

    def _take_token(self) -> None:
        state = self.state
        with state.lock:
            now = time.monotonic()
            state.tokens = min(
                state.burst, state.tokens + (now - state.refilled) * state.rate
            )
            state.refilled = now
            if state.tokens < 1:
                wait = math.ceil((1 - state.tokens) / state.rate)
                state.statuses[429] += 1
                raise NotionError(
                    429,
                    "rate_limited",
                    "You have been rate limited. Please try again in a few minutes.",
                    {"Retry-After": str(wait)},
                )
            state.tokens -= 1
            state.served_at.append(now)

    def _fault(self, method: str, path: str) -> Fault | None:
        with self.state.lock:
            for fault in self.state.faults:
                if fault.method == method and re.fullmatch(fault.path, path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self.state.faults.remove(fault)
                    return fault
        return None

    def _raise_fault(self, fault: Fault) -> None:
        headers = (
            {"Retry-After": str(fault.retry_after)}
            if fault.retry_after is not None
            else {}
        )
        with self.state.lock:
            self.state.statuses[fault.status] += 1
        if fault.raw_body is not None:
            raise _RawFault(fault.status, fault.raw_body)
        raise NotionError(fault.status, fault.code, f"injected {fault.code}", headers)

    def _send(
        self, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client is gone (a killed worker): nothing to answer

    def _send_raw(self, status: int, text: str) -> None:
        data = text.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass


class _RawFault(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(status)
        self.status, self.body = status, body


# --- the API --------------------------------------------------------------------------------------


def _route(
    state: State, method: str, path: str, body: dict[str, Any]
) -> tuple[int, Any]:
    parts = path.strip("/").split("/")
    if parts[:1] != ["v1"]:
        raise NotionError(400, "invalid_request_url", "Invalid request URL.")
    parts = parts[1:]
    if method == "GET" and len(parts) == 2 and parts[0] == "databases":
        return 200, _database(state, parts[1])
    if method == "GET" and len(parts) == 2 and parts[0] == "data_sources":
        return 200, _data_source(state, parts[1])
    if method == "POST" and parts == ["pages"]:
        page = _create_page(state, body)
        if state.hold_creates > 0:
            with state.lock:
                state.hold_creates -= 1
                state.held_urls.append(page["_source_url"])
            state.held.set()
            state.release.wait(timeout=60)
        return 200, _public(page)
    if (
        method == "PATCH"
        and len(parts) == 3
        and parts[0] == "blocks"
        and parts[2] == "children"
    ):
        return 200, _append(state, parts[1], body)
    if (
        method == "POST"
        and len(parts) == 3
        and parts[0] == "data_sources"
        and parts[2] == "query"
    ):
        return 200, _query(state, parts[1], body)
    raise NotionError(
        400, "invalid_request_url", f"Invalid request URL: {method} {path}"
    )


def _not_found(kind: str, object_id: str) -> NotionError:
    return NotionError(
        404,
        "object_not_found",
        f"Could not find {kind} with ID: {object_id}. Make sure the relevant pages and databases are shared with your integration.",
    )


def _database(state: State, database_id: str) -> dict[str, Any]:
    database = state.databases.get(database_id)
    if database is None:
        raise _not_found("database", database_id)
    return {
        "object": "database",
        "id": database.id,
        "title": [
            {"type": "text", "text": {"content": "Gleaner"}, "plain_text": "Gleaner"}
        ],
        "data_sources": [{"id": database.data_source_id, "name": "Gleaner"}],
        "in_trash": False,
    }


def _source(state: State, data_source_id: str) -> Database:
    for database in state.databases.values():
        if database.data_source_id == data_source_id:
            return database
    raise _not_found("data source", data_source_id)


def _data_source(state: State, data_source_id: str) -> dict[str, Any]:
    database = _source(state, data_source_id)
    return {
        "object": "data_source",
        "id": data_source_id,
        "parent": {"type": "database_id", "database_id": database.id},
        "properties": {
            name: {"id": f"p{index}", "name": name, "type": kind, kind: {}}
            for index, (name, kind) in enumerate(database.properties.items())
        },
    }


def _check_rich_text(items: Any, where: str) -> None:
    if not isinstance(items, list):
        raise NotionError(400, "validation_error", f"{where} should be an array.")
    if len(items) > 100:
        raise NotionError(
            400,
            "validation_error",
            f"{where}.length should be ≤ `100`, instead was `{len(items)}`.",
        )
    for index, item in enumerate(items):
        text = (item or {}).get("text") or {}
        content = text.get("content")
        if not isinstance(content, str):
            raise NotionError(
                400,
                "validation_error",
                f"{where}[{index}].text.content should be defined.",
            )
        if utf16_len(content) > 2000:
            raise NotionError(
                400,
                "validation_error",
                f"{where}[{index}].text.content.length should be ≤ `2000`, instead was `{utf16_len(content)}`.",
            )
        link = text.get("link")
        if link and len(str(link.get("url", ""))) > 2000:
            raise NotionError(
                400,
                "validation_error",
                f"{where}[{index}].text.link.url.length should be ≤ `2000`.",
            )


def _check_property(name: str, kind: str, value: Any) -> None:
    given = [key for key in value if key != "type"] if isinstance(value, dict) else []
    if given != [kind]:
        raise NotionError(400, "validation_error", f"{name} is expected to be {kind}.")
    inner = value[kind]
    where = f"body.properties.{name}.{kind}"
    if kind in ("title", "rich_text"):
        _check_rich_text(inner, where)
    elif kind == "url":
        if inner is not None and (not isinstance(inner, str) or len(inner) > 2000):
            raise NotionError(
                400, "validation_error", f"{where}.length should be ≤ `2000`."
            )
    elif kind == "multi_select":
        if not isinstance(inner, list) or len(inner) > 100:
            raise NotionError(
                400, "validation_error", f"{where}.length should be ≤ `100`."
            )
        for option in inner:
            option_name = str(option.get("name", ""))
            if "," in option_name:
                raise NotionError(
                    400,
                    "validation_error",
                    f"Invalid select option, commas not allowed: {option_name}",
                )
            if len(option_name) > 100:
                raise NotionError(
                    400,
                    "validation_error",
                    f"{where} option name.length should be ≤ `100`.",
                )
    elif kind == "number":
        if inner is not None and (
            isinstance(inner, bool) or not isinstance(inner, int | float)
        ):
            raise NotionError(
                400, "validation_error", f"{where} should be a number or `null`."
            )
    elif (
        kind == "date"
        and inner is not None
        and not re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", str(inner.get("start", "")))
    ):
        raise NotionError(
            400,
            "validation_error",
            f"{where}.start should be a valid ISO 8601 date string.",
        )


def _check_children(children: Any) -> list[dict[str, Any]]:
    if not isinstance(children, list):
        raise NotionError(400, "validation_error", "body.children should be an array.")
    if len(children) > 100:
        raise NotionError(
            400,
            "validation_error",
            f"body.children.length should be ≤ `100`, instead was `{len(children)}`.",
        )
    for index, block in enumerate(children):
        kind = block.get("type")
        if not kind or not isinstance(block.get(kind), dict):
            raise NotionError(
                400, "validation_error", f"body.children[{index}] should be a block."
            )
        _check_rich_text(
            block[kind].get("rich_text", []), f"body.children[{index}].{kind}.rich_text"
        )
    return list(children)


def _create_page(state: State, body: dict[str, Any]) -> dict[str, Any]:
    parent = body.get("parent") or {}
    if parent.get("type") != "data_source_id":
        raise NotionError(
            400,
            "validation_error",
            "body.parent.data_source_id should be defined (Notion-Version 2025-09-03).",
        )
    with state.lock:
        database = _source(state, str(parent.get("data_source_id")))
    properties = body.get("properties") or {}
    for name, value in properties.items():
        kind = database.properties.get(name)
        if kind is None:
            raise NotionError(
                400, "validation_error", f"{name} is not a property that exists."
            )
        _check_property(name, kind, value)
    children = _check_children(body.get("children", []))
    source_url = next(
        (
            str(value["url"])
            for name, value in properties.items()
            if database.properties[name] == "url" and value.get("url")
        ),
        "",
    )
    page_id = str(uuid.uuid4())
    page = {
        "object": "page",
        "id": page_id,
        "created_time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "parent": {
            "type": "data_source_id",
            "data_source_id": database.data_source_id,
            "database_id": database.id,
        },
        "in_trash": False,
        "properties": properties,
        "url": f"https://www.notion.so/{page_id.replace('-', '')}",
        "_source_url": source_url,
        "_seq": 0,
    }
    with state.lock:
        page["_seq"] = len(state.pages)
        state.pages[page_id] = page
        state.children[page_id] = children
    return page


def _public(page: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in page.items() if not key.startswith("_")}


def _append(state: State, block_id: str, body: dict[str, Any]) -> dict[str, Any]:
    children = _check_children(body.get("children"))
    with state.lock:
        if block_id not in state.pages:
            raise _not_found("block", block_id)
        state.children[block_id].extend(children)
    return {
        "object": "list",
        "results": children,
        "has_more": False,
        "next_cursor": None,
    }


def _query(state: State, data_source_id: str, body: dict[str, Any]) -> dict[str, Any]:
    with state.lock:
        database = _source(state, data_source_id)
        pages = [
            page
            for page in state.pages.values()
            if page["parent"]["data_source_id"] == data_source_id
        ]
    condition = body.get("filter")
    if condition is not None:
        name = condition.get("property")
        if database.properties.get(name) != "url" or "equals" not in (
            condition.get("url") or {}
        ):
            raise NotionError(
                400,
                "validation_error",
                "This test server filters on a URL property with `equals` only.",
            )
        wanted = condition["url"]["equals"]
        pages = [
            page
            for page in pages
            if (page["properties"].get(name) or {}).get("url") == wanted
        ]
    pages.sort(key=lambda page: page["_seq"])
    size = min(int(body.get("page_size") or 100), 100)
    return {
        "object": "list",
        "results": [_public(page) for page in pages[:size]],
        "has_more": len(pages) > size,
        "next_cursor": None,
    }
