"""The JSON Schema of one Notion page property value, as gleaner.notion_rules checks it at submit.

Published in /openapi.json as `NotionPropertyValue`, so a client sees the rules (and the contract test
generates values the server accepts and values it must refuse). The schema says no more and no less than
notion_rules: every value it refuses is refused by the server too. A few rules it cannot say exactly
(lengths are counted in UTF-16 code units, dates must exist) are still refused with 422
`invalid_notion_properties`.
"""

from __future__ import annotations

from typing import Any

from gleaner.notion_rules import (
    DATE_PATTERN,
    MAX_ARRAY,
    MAX_EMAIL,
    MAX_EQUATION,
    MAX_OPTION_NAME,
    MAX_PHONE,
    MAX_TEXT,
    MAX_URL,
    UUID_PATTERN,
)

_STRING_OR_NULL: dict[str, Any] = {"type": ["string", "null"]}


def _one_of(kind: str, value: dict[str, Any]) -> dict[str, Any]:
    """`{kind: value}`, optionally with `"type": kind`, and nothing else."""
    return {
        "type": "object",
        "required": [kind],
        "properties": {"type": {"const": kind}, kind: value},
        "additionalProperties": False,
    }


def _keyed(kind: str, value: dict[str, Any]) -> dict[str, Any]:
    # A rich text part: `kind` holds the content; other keys (annotations, plain_text) are ignored.
    return {
        "type": "object",
        "required": [kind],
        "properties": {"type": {"const": kind}, kind: value},
    }


_LINK = {
    "anyOf": [
        {"type": "null"},
        {
            "type": "object",
            "required": ["url"],
            "properties": {"url": {"type": "string", "maxLength": MAX_URL}},
        },
    ]
}

RICH_TEXT: dict[str, Any] = {
    "type": "array",
    "maxItems": MAX_ARRAY,
    "items": {
        "anyOf": [
            _keyed(
                "text",
                {
                    "type": "object",
                    "required": ["content"],
                    "properties": {
                        "content": {"type": "string", "maxLength": MAX_TEXT},
                        "link": _LINK,
                    },
                },
            ),
            _keyed("mention", {"type": "object"}),
            _keyed(
                "equation",
                {
                    "type": "object",
                    "required": ["expression"],
                    "properties": {
                        "expression": {"type": "string", "maxLength": MAX_EQUATION}
                    },
                },
            ),
        ]
    },
}

OPTION: dict[str, Any] = {
    "anyOf": [
        {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {
                    "type": "string",
                    "maxLength": MAX_OPTION_NAME,
                    "pattern": "^[^,]*$",
                    "description": "Notion refuses commas in option names",
                }
            },
        },
        {
            "type": "object",
            "required": ["id"],
            "not": {"required": ["name"]},
            "properties": {"id": {"type": "string", "maxLength": MAX_OPTION_NAME}},
        },
    ]
}

DATE_STRING = {
    "type": "string",
    "pattern": DATE_PATTERN,
    "description": "ISO 8601: YYYY-MM-DD, or a date and time with an optional offset",
}

IDS: dict[str, Any] = {
    "type": "array",
    "maxItems": MAX_ARRAY,
    "items": {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "string", "pattern": UUID_PATTERN}},
    },
}

PEOPLE: dict[str, Any] = {
    **IDS,
    "items": {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "string", "pattern": UUID_PATTERN},
            "object": {"const": "user"},
        },
    },
}

FILES: dict[str, Any] = {
    "type": "array",
    "maxItems": MAX_ARRAY,
    "items": {
        "type": "object",
        "required": ["external"],
        "properties": {
            "name": {"type": "string", "maxLength": MAX_OPTION_NAME},
            "external": {
                "type": "object",
                "required": ["url"],
                "properties": {"url": {"type": "string", "maxLength": MAX_URL}},
            },
        },
    },
}

NOTION_PROPERTY_VALUE: dict[str, Any] = {
    "description": "One Notion page property value, e.g. "
    '`{"multi_select": [{"name": "Important"}]}`; with a database schema cached, the property must '
    "also exist in the database with that type",
    "oneOf": [
        _one_of("title", RICH_TEXT),
        _one_of("rich_text", RICH_TEXT),
        _one_of("number", {"type": ["number", "null"]}),
        _one_of("select", {"anyOf": [{"type": "null"}, OPTION]}),
        _one_of("status", {"anyOf": [{"type": "null"}, OPTION]}),
        _one_of(
            "multi_select", {"type": "array", "maxItems": MAX_ARRAY, "items": OPTION}
        ),
        _one_of(
            "date",
            {
                "anyOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["start"],
                        "properties": {
                            "start": DATE_STRING,
                            "end": {"anyOf": [{"type": "null"}, DATE_STRING]},
                        },
                    },
                ]
            },
        ),
        _one_of("people", PEOPLE),
        _one_of("relation", IDS),
        _one_of("files", FILES),
        _one_of("checkbox", {"type": "boolean"}),
        _one_of("url", {**_STRING_OR_NULL, "maxLength": MAX_URL}),
        _one_of("email", {**_STRING_OR_NULL, "maxLength": MAX_EMAIL}),
        _one_of("phone_number", {**_STRING_OR_NULL, "maxLength": MAX_PHONE}),
    ],
    "examples": [{"multi_select": [{"name": "Important"}]}],
}
