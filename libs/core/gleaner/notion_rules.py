"""Notion's documented rules for page property values, checked without Notion.

From Notion's API reference ("Page properties", "Request limits → size limits"): rich text content and
link URLs at most 2,000 characters, at most 100 elements in any array (rich text, multi-select options,
relations, people, files), URLs 2,000 characters, emails and phone numbers 200, select and multi-select
option names without commas and at most 100 characters, numbers are JSON numbers, dates ISO 8601, ids
UUIDs. The API checks user properties with these at submit (a 422 naming the property), and the Notion
worker checks every request it would send, so a dry run fails the item that Notion would reject.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

MAX_TEXT = 2000
MAX_ARRAY = 100
MAX_URL = 2000
MAX_EMAIL = 200
MAX_PHONE = 200
MAX_OPTION_NAME = 100
RICH_TEXT_TYPES = ("text", "mention", "equation")
MAX_EQUATION = 1000

UUID_PATTERN = "^([0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
DATE_PATTERN = (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    "(T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$"
)
"""ISO 8601 as Notion takes it: a date, or a date and time with an optional offset. The OpenAPI document
publishes these patterns (gleaner_api.notion_openapi), so they are ECMA-compatible regular expressions."""

_UUID = re.compile(UUID_PATTERN)
_DATE = re.compile(DATE_PATTERN)


def is_notion_id(value: Any) -> bool:
    """A Notion id: a UUID, with or without dashes."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def _string(value: Any, limit: int, what: str) -> list[str]:
    if not isinstance(value, str):
        return [f"{what} must be a string"]
    # Notion counts as JavaScript does, in UTF-16 code units: an emoji is 2
    length = len(value.encode("utf-16-le")) // 2
    if length > limit:
        return [f"{what} is {length} characters; Notion allows {limit}"]
    return []


def _array(value: Any, what: str) -> list[str]:
    if not isinstance(value, list):
        return [f"{what} must be a list"]
    if len(value) > MAX_ARRAY:
        return [f"{what} has {len(value)} elements; Notion allows {MAX_ARRAY}"]
    return []


def rich_text_problems(value: Any, what: str = "rich text") -> list[str]:
    """An array of rich text objects as Notion accepts them in a request."""
    problems = _array(value, what)
    if problems:
        return problems
    for index, part in enumerate(value):
        where = f"{what}[{index}]"
        if not isinstance(part, Mapping):
            problems.append(f"{where} must be a rich text object")
            continue
        # An explicit "type" decides, even an empty one; else the first content key present does
        kind = (
            part["type"]
            if "type" in part
            else next((k for k in RICH_TEXT_TYPES if k in part), None)
        )
        if kind not in RICH_TEXT_TYPES or not isinstance(part.get(kind), Mapping):
            problems.append(f"{where} must hold one of {', '.join(RICH_TEXT_TYPES)}")
        elif kind == "text":
            text = part["text"]
            problems += _string(text.get("content"), MAX_TEXT, f"{where}.text.content")
            link = text.get("link")
            if link is not None:
                if not isinstance(link, Mapping):
                    problems.append(f"{where}.text.link must be {{'url': ...}} or null")
                else:
                    problems += _string(
                        link.get("url"), MAX_URL, f"{where}.text.link.url"
                    )
        elif kind == "equation":
            expression = part["equation"].get("expression")
            problems += _string(
                expression, MAX_EQUATION, f"{where}.equation.expression"
            )
    return problems


def _option(value: Any, what: str) -> list[str]:
    if not isinstance(value, Mapping) or not ("name" in value or "id" in value):
        return [f"{what} must be {{'name': ...}} (or {{'id': ...}})"]
    if "name" in value:
        problems = _string(value["name"], MAX_OPTION_NAME, f"{what}.name")
        if not problems and "," in value["name"]:
            problems.append(
                f"{what}.name {value['name']!r} contains a comma, which Notion refuses"
            )
        return problems
    return _string(value["id"], MAX_OPTION_NAME, f"{what}.id")


def _nullable_option(value: Any, what: str) -> list[str]:
    return [] if value is None else _option(value, what)


def _options(value: Any, what: str) -> list[str]:
    problems = _array(value, what)
    if problems:
        return [f"{problems[0]} of options like {{'name': 'Important'}}"]
    return [
        p for i, option in enumerate(value) for p in _option(option, f"{what}[{i}]")
    ]


def _iso_date(value: Any, what: str) -> list[str]:
    if not isinstance(value, str):
        return [f"{what} must be an ISO 8601 date string"]
    if _DATE.fullmatch(value) is None:
        return [
            f"{what} {value[:40]!r} is not an ISO 8601 date (YYYY-MM-DD[THH:MM[:SS]][Z|±HH:MM])"
        ]
    try:
        if len(value) == 10:
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return [f"{what} {value[:40]!r} is not an ISO 8601 date"]
    return []


def _date(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, Mapping) or "start" not in value:
        return [f"{what} must be {{'start': 'YYYY-MM-DD', 'end': ... or null}}"]
    problems = _iso_date(value["start"], f"{what}.start")
    if value.get("end") is not None:
        problems += _iso_date(value["end"], f"{what}.end")
    return problems


def _ids(value: Any, what: str, object_name: str | None = None) -> list[str]:
    problems = _array(value, what)
    if problems:
        return problems
    for index, entry in enumerate(value):
        if not isinstance(entry, Mapping) or not is_notion_id(entry.get("id")):
            problems.append(f"{what}[{index}] must be {{'id': '<a Notion UUID>'}}")
        elif object_name and entry.get("object", object_name) != object_name:
            problems.append(f"{what}[{index}].object must be {object_name!r}")
    return problems


def _files(value: Any, what: str) -> list[str]:
    problems = _array(value, what)
    if problems:
        return problems
    for index, entry in enumerate(value):
        where = f"{what}[{index}]"
        external = entry.get("external") if isinstance(entry, Mapping) else None
        if not isinstance(external, Mapping):
            problems.append(
                f"{where} must be {{'name': ..., 'external': {{'url': ...}}}}"
            )
            continue
        problems += _string(entry.get("name", ""), MAX_OPTION_NAME, f"{where}.name")
        problems += _string(external.get("url"), MAX_URL, f"{where}.external.url")
    return problems


def _number(value: Any, what: str) -> list[str]:
    if value is None or (
        isinstance(value, int | float) and not isinstance(value, bool)
    ):
        return []
    return [f"{what} must be a number, not {value!r}"[:200]]


def _checkbox(value: Any, what: str) -> list[str]:
    return [] if isinstance(value, bool) else [f"{what} must be true or false"]


def _nullable(limit: int) -> Callable[[Any, str], list[str]]:
    def check(value: Any, what: str) -> list[str]:
        return [] if value is None else _string(value, limit, what)

    return check


VALUE_RULES: dict[str, Callable[[Any, str], list[str]]] = {
    "title": rich_text_problems,
    "rich_text": rich_text_problems,
    "number": _number,
    "select": _nullable_option,
    "status": _nullable_option,
    "multi_select": _options,
    "date": _date,
    "people": lambda value, what: _ids(value, what, "user"),
    "relation": _ids,
    "files": _files,
    "checkbox": _checkbox,
    "url": _nullable(MAX_URL),
    "email": _nullable(MAX_EMAIL),
    "phone_number": _nullable(MAX_PHONE),
}
"""For each writable property type, the problems with a value of it (empty: Notion accepts it)."""


def value_problems(name: str, kind: str, value: Mapping[str, Any]) -> list[str]:
    """Problems with the property value `value` (e.g. {"number": 5}) of type `kind`."""
    rule = VALUE_RULES.get(kind)
    return rule(value[kind], f"property {name!r}: {kind}") if rule else []
