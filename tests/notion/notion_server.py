"""A local Notion API for the tests: a real HTTP server (a thread) that follows the documented API.

Covered, as of Notion-Version 2025-09-03: GET /v1/databases/{id} (with `data_sources`),
GET /v1/data_sources/{id}, POST /v1/pages (parent `data_source_id`), GET /v1/pages/{id},
PATCH /v1/blocks/{id}/children, GET /v1/blocks/{id}/children, POST /v1/data_sources/{id}/query with a
URL-property filter. Like Notion it:
- checks the bearer token and the Notion-Version header, and answers errors as {"object": "error",
  "status", "code", "message", "request_id"}, validation errors in Notion's "body failed validation:"
  style, and 400 validation_error for an id in the path that is not a UUID;
- paginates lists for real: `start_cursor` and `page_size` (1..100, default 100) in, `results`,
  `has_more` and `next_cursor` (the id of the next result) out;
- returns pages and blocks as Notion does: `object`, `id`, `type`, `created_time`, `parent`,
  `has_children`, and rich text with `type`, `plain_text`, `annotations` and `href` filled in;
- refuses rich text over 2,000 characters (UTF-16 units) or 100 objects, more than 100 children in an
  array, more than 1,000 blocks or more than two levels of nesting in one request, unknown block types,
  text blocks without `rich_text`, multi_select option names with commas, unknown properties or wrong
  types, and bodies over 500 KB;
- answers 429 rate_limited with Retry-After when one integration token's requests come faster than its
  budget (3 per second by default, per token, as Notion limits per integration).
It counts pages per source URL, and can be told to fail or hold requests.
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
from urllib.parse import parse_qsl

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
    other_tokens: set[str] = field(default_factory=set)  # more integrations
    buckets: dict[str, tuple[float, float]] = field(
        default_factory=dict
    )  # token → (level, refilled at): one rate budget per integration
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
        self.state = State(token=token, rate=rate, burst=burst)
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

    def add_token(self, token: str) -> None:
        """Another integration: its own token, with its own rate budget."""
        with self.state.lock:
            self.state.other_tokens.add(token)

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
        path, _, query = self.path.partition("?")
        try:
            token = self._check_headers()
            with self.state.lock:
                self.state.requests[
                    f"{method} {path.strip('/').split('/')[1:2][0] if path.count('/') > 1 else ''}"
                ] += 1
            self._take_token(token)
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
            status, result = _route(
                self.state, method, path, body, dict(parse_qsl(query))
            )
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

    def _check_headers(self) -> str:
        """The caller's integration token, after checking it and the version header."""
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme != "Bearer" or (
            token != self.state.token and token not in self.state.other_tokens
        ):
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
        return token

    def _take_token(self, token: str) -> None:
        state = self.state
        with state.lock:
            now = time.monotonic()
            level, refilled = state.buckets.get(token, (state.burst, now))
            level = min(state.burst, level + (now - refilled) * state.rate)
            if level < 1:
                state.buckets[token] = (level, now)
                wait = math.ceil((1 - level) / state.rate)
                state.statuses[429] += 1
                raise NotionError(
                    429,
                    "rate_limited",
                    "You have been rate limited. Please try again in a few minutes.",
                    {"Retry-After": str(wait)},
                )
            state.buckets[token] = (level - 1, now)
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

MAX_PAGE_SIZE = 100
MAX_CHILDREN = 100
MAX_BLOCKS_PER_REQUEST = 1000
MAX_NESTING = 2  # levels of children below the request's own `children`
TEXT_BLOCKS = frozenset(
    {
        "paragraph", "heading_1", "heading_2", "heading_3", "bulleted_list_item", "numbered_list_item",
        "quote", "to_do", "toggle", "callout", "code",
    }
)  # fmt: skip
OTHER_BLOCKS = frozenset(
    {
        "divider",
        "bookmark",
        "embed",
        "image",
        "equation",
        "table_of_contents",
        "breadcrumb",
    }
)
_UUID = re.compile(
    r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I
)


def invalid(message: str, where: str = "body") -> NotionError:
    """A 400 validation_error worded as Notion words them."""
    return NotionError(400, "validation_error", f"{where} failed validation: {message}")


def _dashed(object_id: str) -> str:
    """Notion accepts ids with or without dashes and answers with dashes."""
    plain = object_id.replace("-", "").lower()
    return f"{plain[:8]}-{plain[8:12]}-{plain[12:16]}-{plain[16:20]}-{plain[20:]}"


def _path_id(name: str, value: str) -> str:
    if not _UUID.fullmatch(value):
        raise invalid(
            f'path.{name} should be a valid uuid, instead was `"{value[:60]}"`.', "path"
        )
    return _dashed(value)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _route(
    state: State,
    method: str,
    path: str,
    body: dict[str, Any],
    query: dict[str, str] | None = None,
) -> tuple[int, Any]:
    parts = path.strip("/").split("/")
    if parts[:1] != ["v1"]:
        raise NotionError(400, "invalid_request_url", "Invalid request URL.")
    parts = parts[1:]
    if method == "GET" and len(parts) == 2 and parts[0] == "databases":
        return 200, _database(state, _path_id("database_id", parts[1]))
    if method == "GET" and len(parts) == 2 and parts[0] == "data_sources":
        return 200, _data_source(state, _path_id("data_source_id", parts[1]))
    if method == "POST" and parts == ["pages"]:
        page = _create_page(state, body)
        if state.hold_creates > 0:
            with state.lock:
                state.hold_creates -= 1
                state.held_urls.append(page["_source_url"])
            state.held.set()
            state.release.wait(timeout=60)
        return 200, _public(page)
    if method == "GET" and len(parts) == 2 and parts[0] == "pages":
        page_id = _path_id("page_id", parts[1])
        with state.lock:
            found = state.pages.get(page_id)
        if found is None:
            raise _not_found("page", page_id)
        return 200, _public(found)
    if len(parts) == 3 and parts[0] == "blocks" and parts[2] == "children":
        block_id = _path_id("block_id", parts[1])
        if method == "PATCH":
            return 200, _append(state, block_id, body)
        if method == "GET":
            return 200, _list_children(state, block_id, query or {})
    if (
        method == "POST"
        and len(parts) == 3
        and parts[0] == "data_sources"
        and parts[2] == "query"
    ):
        return 200, _query(state, _path_id("data_source_id", parts[1]), body)
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
        "title": _rich_text_out([{"type": "text", "text": {"content": "Gleaner"}}]),
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


# --- validation ---------------------------------------------------------------------------------


def _check_rich_text(items: Any, where: str) -> None:
    if not isinstance(items, list):
        raise invalid(
            f"{where} should be an array, instead was `{json.dumps(items)[:60]}`."
        )
    if len(items) > 100:
        raise invalid(f"{where}.length should be ≤ `100`, instead was `{len(items)}`.")
    for index, item in enumerate(items):
        text = (item or {}).get("text") or {}
        content = text.get("content")
        if not isinstance(content, str):
            raise invalid(
                f"{where}[{index}].text.content should be defined, instead was `undefined`."
            )
        if utf16_len(content) > 2000:
            raise invalid(
                f"{where}[{index}].text.content.length should be ≤ `2000`, instead was `{utf16_len(content)}`."
            )
        link = text.get("link")
        if link and len(str(link.get("url", ""))) > 2000:
            raise invalid(f"{where}[{index}].text.link.url.length should be ≤ `2000`.")


def _check_property(name: str, kind: str, value: Any) -> None:
    given = [key for key in value if key != "type"] if isinstance(value, dict) else []
    if given != [kind]:
        raise invalid(f"{name} is expected to be {kind}.")
    inner = value[kind]
    where = f"body.properties.{name}.{kind}"
    if kind in ("title", "rich_text"):
        _check_rich_text(inner, where)
    elif kind == "url":
        if inner is not None and (not isinstance(inner, str) or len(inner) > 2000):
            raise invalid(f"{where}.length should be ≤ `2000`.")
    elif kind == "multi_select":
        if not isinstance(inner, list) or len(inner) > 100:
            raise invalid(f"{where}.length should be ≤ `100`.")
        for option in inner:
            option_name = str(option.get("name", ""))
            if "," in option_name:
                raise invalid(
                    f"Invalid select option, commas not allowed: {option_name}"
                )
            if len(option_name) > 100:
                raise invalid(f"{where} option name.length should be ≤ `100`.")
    elif kind == "number":
        if inner is not None and (
            isinstance(inner, bool) or not isinstance(inner, int | float)
        ):
            raise invalid(
                f"{where} should be a number or `null`, instead was `{json.dumps(inner)[:40]}`."
            )
    elif (
        kind == "date"
        and inner is not None
        and not re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", str(inner.get("start", "")))
    ):
        raise invalid(f"{where}.start should be a valid ISO 8601 date string.")


def _check_blocks(children: Any, where: str, depth: int, counted: list[int]) -> None:
    """Children as Notion checks them: ≤ 100 per array, known types, text blocks with rich_text,
    nesting at most MAX_NESTING below the request's own array, ≤ 1,000 blocks in all."""
    if not isinstance(children, list):
        raise invalid(f"{where} should be an array.")
    if len(children) > MAX_CHILDREN:
        raise invalid(
            f"{where}.length should be ≤ `{MAX_CHILDREN}`, instead was `{len(children)}`."
        )
    for index, block in enumerate(children):
        at = f"{where}[{index}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind is None and isinstance(block, dict):
            kind = next((k for k in block if k in TEXT_BLOCKS | OTHER_BLOCKS), None)
        if kind not in TEXT_BLOCKS | OTHER_BLOCKS:
            raise invalid(
                f"{at}.type should be one of {', '.join(sorted(TEXT_BLOCKS | OTHER_BLOCKS))}, instead was `{json.dumps(kind)}`."
            )
        content = block.get(kind)
        if not isinstance(content, dict):
            raise invalid(f"{at}.{kind} should be defined, instead was `undefined`.")
        if kind in TEXT_BLOCKS:
            if "rich_text" not in content:
                raise invalid(
                    f"{at}.{kind}.rich_text should be defined, instead was `undefined`."
                )
            _check_rich_text(content["rich_text"], f"{at}.{kind}.rich_text")
        counted[0] += 1
        if counted[0] > MAX_BLOCKS_PER_REQUEST:
            raise invalid(
                f"a request may hold at most {MAX_BLOCKS_PER_REQUEST} blocks."
            )
        nested = content.get("children")
        if nested is not None:
            if depth >= MAX_NESTING:
                raise invalid(
                    f"{at}.{kind}.children should be not present, instead was `[...]` "
                    f"(at most {MAX_NESTING} levels of nesting in one request)."
                )
            _check_blocks(nested, f"{at}.{kind}.children", depth + 1, counted)


def _check_children(
    children: Any, where: str = "body.children"
) -> list[dict[str, Any]]:
    _check_blocks(children, where, 0, [0])
    return list(children)


# --- what Notion answers --------------------------------------------------------------------------


def _rich_text_out(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rich text as Notion returns it: typed, with plain_text, annotations and href."""
    out = []
    for item in items:
        text = item.get("text") or {}
        link = text.get("link")
        out.append(
            {
                "type": "text",
                "text": {"content": text.get("content", ""), "link": link},
                "annotations": {
                    "bold": False,
                    "italic": False,
                    "strikethrough": False,
                    "underline": False,
                    "code": False,
                    "color": "default",
                    **(item.get("annotations") or {}),
                },  # fmt: skip
                "plain_text": text.get("content", ""),
                "href": link.get("url") if isinstance(link, dict) else None,
            }
        )
    return out


def _store_blocks(
    state: State, parent: dict[str, Any], parent_id: str, blocks: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Blocks as Notion keeps them (ids, types, parents, rich text filled in); nested children are
    stored under their own block. Call with the lock held."""
    stored = []
    for block in blocks:
        kind = block.get("type") or next(
            k for k in block if k in TEXT_BLOCKS | OTHER_BLOCKS
        )
        content = dict(block[kind])
        nested = content.pop("children", None)
        if "rich_text" in content:
            content["rich_text"] = _rich_text_out(content["rich_text"])
        block_id = str(uuid.uuid4())
        row = {
            "object": "block",
            "id": block_id,
            "parent": parent,
            "created_time": _now(),
            "last_edited_time": _now(),
            "has_children": bool(nested),
            "in_trash": False,
            "type": kind,
            kind: content,
        }
        state.children[block_id] = []
        if nested:
            state.children[block_id] = _store_blocks(
                state, {"type": "block_id", "block_id": block_id}, block_id, nested
            )
        stored.append(row)
    return stored


def _properties_out(database: Database, properties: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for index, name in enumerate(database.properties):
        kind = database.properties[name]
        value = (properties.get(name) or {}).get(kind)
        if kind in ("title", "rich_text"):
            value = _rich_text_out(value or [])
        elif kind == "multi_select":
            value = [
                {"id": f"o{n}", "name": o.get("name"), "color": "default"}
                for n, o in enumerate(value or [])
            ]
        out[name] = {"id": f"p{index}", "type": kind, kind: value}
    return out


def _create_page(state: State, body: dict[str, Any]) -> dict[str, Any]:
    parent = body.get("parent") or {}
    if parent.get("type") != "data_source_id":
        raise invalid(
            "body.parent.data_source_id should be defined, instead was `undefined` (Notion-Version 2025-09-03)."
        )
    data_source_id = str(parent.get("data_source_id"))
    if not _UUID.fullmatch(data_source_id):
        raise invalid(
            f'body.parent.data_source_id should be a valid uuid, instead was `"{data_source_id[:60]}"`.'
        )
    with state.lock:
        database = _source(state, _dashed(data_source_id))
    properties = body.get("properties") or {}
    for name, value in properties.items():
        kind = database.properties.get(name)
        if kind is None:
            raise invalid(f"{name} is not a property that exists.")
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
        "created_time": _now(),
        "last_edited_time": _now(),
        "parent": {
            "type": "data_source_id",
            "data_source_id": database.data_source_id,
            "database_id": database.id,
        },
        "in_trash": False,
        "properties": properties,  # as sent (tests read them); answered in Notion's shape
        "url": f"https://www.notion.so/{page_id.replace('-', '')}",
        "_database": database,
        "_source_url": source_url,
        "_seq": 0,
    }
    with state.lock:
        page["_seq"] = len(state.pages)
        state.pages[page_id] = page
        state.children[page_id] = _store_blocks(
            state, {"type": "page_id", "page_id": page_id}, page_id, children
        )
    return page


def _public(page: dict[str, Any]) -> dict[str, Any]:
    """A page as Notion returns it: every property of its data source, with ids and types."""
    public = {key: value for key, value in page.items() if not key.startswith("_")}
    public["properties"] = _properties_out(page["_database"], page["properties"])
    return public


def _paginate(
    results: list[dict[str, Any]], start_cursor: Any, page_size: Any, where: str
) -> dict[str, Any]:
    """One page of a list, as Notion pages them: the cursor is the id of the first result to return."""
    size = MAX_PAGE_SIZE if page_size is None else page_size
    if isinstance(size, str) and size.isdigit():
        size = int(size)
    if (
        not isinstance(size, int)
        or isinstance(size, bool)
        or not 1 <= size <= MAX_PAGE_SIZE
    ):
        raise invalid(
            f"{where}.page_size should be a number between 1 and {MAX_PAGE_SIZE}, instead was `{json.dumps(page_size)}`.",
            where,
        )
    start = 0
    if start_cursor is not None:
        ids = [result["id"] for result in results]
        if start_cursor not in ids:
            raise invalid(
                f"{where}.start_cursor should be a valid cursor, instead was `{json.dumps(start_cursor)[:60]}`.",
                where,
            )
        start = ids.index(start_cursor)
    chunk = results[start : start + size]
    more = start + size < len(results)
    return {
        "object": "list",
        "results": chunk,
        "next_cursor": results[start + size]["id"] if more else None,
        "has_more": more,
    }


def _append(state: State, block_id: str, body: dict[str, Any]) -> dict[str, Any]:
    children = _check_children(body.get("children"))
    with state.lock:
        if block_id not in state.children:
            raise _not_found("block", block_id)
        parent = (
            {"type": "page_id", "page_id": block_id}
            if block_id in state.pages
            else {"type": "block_id", "block_id": block_id}
        )
        added = _store_blocks(state, parent, block_id, children)
        state.children[block_id].extend(added)
    # Notion answers with the new blocks, as a list (paginated like any other)
    return {**_paginate(added, None, None, "body"), "type": "block", "block": {}}


def _list_children(
    state: State, block_id: str, query: dict[str, str]
) -> dict[str, Any]:
    with state.lock:
        if block_id not in state.children:
            raise _not_found("block", block_id)
        blocks = list(state.children[block_id])
    listing = _paginate(
        blocks, query.get("start_cursor"), query.get("page_size"), "query"
    )
    return {**listing, "type": "block", "block": {}}


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
            raise invalid(
                "body.filter: this test server filters on a URL property with `equals` only."
            )
        wanted = condition["url"]["equals"]
        pages = [
            page
            for page in pages
            if (page["properties"].get(name) or {}).get("url") == wanted
        ]
    pages.sort(key=lambda page: page["_seq"])
    listing = _paginate(
        [_public(page) for page in pages],
        body.get("start_cursor"),
        body.get("page_size"),
        "body",
    )
    return {**listing, "type": "page_or_data_source", "page_or_data_source": {}}
