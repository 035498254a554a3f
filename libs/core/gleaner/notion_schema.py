"""What Gleaner knows about a Notion database's properties, without a Notion client.

The Notion worker reads a database's schema (through its data source) and caches it here in Redis, so
the API can check user-supplied `properties` against it at submit time without importing the worker or
calling Notion: when the schema is cached, a bad property is a 422 before any job runs; when it is not,
the worker checks the same way and fails the item with the same message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from redis import Redis

from gleaner.notion_rules import value_problems

SCHEMA_KEY = "gleaner:notion:schema:{database_id}"

DEFAULT_SCHEMA_TTL = 300
"""Seconds a database schema stays cached (per process and in Redis): a renamed column is seen this late."""

WRITABLE_TYPES = frozenset(
    {
        "title", "rich_text", "number", "select", "multi_select", "status", "date", "people", "files",
        "checkbox", "url", "email", "phone_number", "relation",
    }
)  # fmt: skip
"""Property types a page create may set; the others (formula, rollup, created_time, …) are computed."""


@dataclass(frozen=True)
class DatabaseSchema:
    """A database, the data source pages are filed in, and its properties as {name: type}."""

    database_id: str
    data_source_id: str
    title_property: str
    properties: dict[str, str] = field(default_factory=dict)

    def first_of_type(self, kind: str, preferred: tuple[str, ...] = ()) -> str | None:
        """The property of type `kind` named like one of `preferred` (any case), else the first such."""
        names = [name for name, found in self.properties.items() if found == kind]
        for wanted in preferred:
            for name in names:
                if name.casefold() == wanted.casefold():
                    return name
        return names[0] if names else None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> DatabaseSchema:
        data = json.loads(raw)
        return cls(
            database_id=data["database_id"],
            data_source_id=data["data_source_id"],
            title_property=data["title_property"],
            properties=dict(data["properties"]),
        )


def cached_schema(redis: Redis, database_id: str) -> DatabaseSchema | None:
    raw = redis.get(SCHEMA_KEY.format(database_id=database_id))
    return DatabaseSchema.from_json(raw) if isinstance(raw, bytes | str) else None


def store_schema(
    redis: Redis, schema: DatabaseSchema, ttl: int = DEFAULT_SCHEMA_TTL
) -> None:
    redis.set(
        SCHEMA_KEY.format(database_id=schema.database_id), schema.to_json(), ex=ttl
    )


def property_type(value: Any) -> str | None:
    """The type a Notion property value is written as: its one key besides an optional matching "type"."""
    if not isinstance(value, Mapping):
        return None
    keys = [key for key in value if key != "type"]
    if len(keys) != 1 or value.get("type", keys[0]) != keys[0]:
        return None
    return str(keys[0])


def check_properties(
    properties: Mapping[str, Any], schema: DatabaseSchema | None = None
) -> list[str]:
    """Problems with user-supplied page property values, one readable line each (empty when fine).

    Each value must be one Notion property value such as `{"multi_select": [{"name": "Important"}]}`
    that Notion's documented rules accept (gleaner.notion_rules); with a schema, also a property of the
    database with that type.
    """
    problems: list[str] = []
    for name, value in properties.items():
        given = property_type(value)
        if given is None:
            problems.append(
                f'property {name!r}: expected one Notion property value like {{"select": {{...}}}}'
            )
            continue
        if given not in WRITABLE_TYPES:
            problems.append(
                f"property {name!r}: {given!r} is not a type a page can be created with"
            )
            continue
        problems += value_problems(name, given, value)
        if schema is None:
            continue
        expected = schema.properties.get(name)
        if expected is None:
            known = ", ".join(sorted(schema.properties)) or "none"
            problems.append(
                f"property {name!r} is not in the database (its properties: {known})"
            )
        elif expected != given:
            problems.append(f"property {name!r} is a {expected} property, not {given}")
    return problems
