"""A database's schema, read once and cached: in this process and in Redis (for every replica and the API).

With API version 2025-09-03 the properties live on the database's data source: retrieve the database
for its `data_sources`, then the data source for its properties. A database with several data sources
files into the first one unless the task names another (`config.notion.data_source_id`).
"""

from __future__ import annotations

import time

from redis import Redis

from gleaner.errors import PermanentError
from gleaner.notion_schema import (
    DEFAULT_SCHEMA_TTL,
    DatabaseSchema,
    cached_schema,
    store_schema,
)
from gleaner_notion.client import NotionApi

_local: dict[str, tuple[float, DatabaseSchema]] = {}


def read_schema(
    api: NotionApi, database_id: str, data_source_id: str | None = None
) -> DatabaseSchema:
    """The schema straight from Notion (two requests)."""
    database = api.retrieve_database(database_id)
    sources = [
        source["id"] for source in database.get("data_sources", []) if source.get("id")
    ]
    if data_source_id is None:
        if not sources:
            raise PermanentError(
                f"Notion database {database_id} has no data source to file pages in",
                code="notion_no_data_source",
            )
        data_source_id = sources[0]
    elif data_source_id not in sources:
        raise PermanentError(
            f"data source {data_source_id} is not one of database {database_id}'s ({', '.join(sources) or 'none'})",
            code="notion_no_data_source",
        )
    source = api.retrieve_data_source(data_source_id)
    properties = {
        name: str(spec.get("type"))
        for name, spec in (source.get("properties") or {}).items()
        if isinstance(spec, dict)
    }
    titles = [name for name, kind in properties.items() if kind == "title"]
    if not titles:
        raise PermanentError(
            f"data source {data_source_id} has no title property",
            code="notion_no_title",
        )
    return DatabaseSchema(database_id, data_source_id, titles[0], properties)


def load_schema(
    api: NotionApi,
    redis: Redis,
    database_id: str,
    data_source_id: str | None = None,
    ttl: int = DEFAULT_SCHEMA_TTL,
) -> DatabaseSchema:
    """The cached schema if it is fresh (this process first, then Redis), else read and cache it."""
    now = time.monotonic()
    hit = _local.get(database_id)
    if hit is not None and hit[0] > now and _fits(hit[1], data_source_id):
        return hit[1]
    schema = cached_schema(redis, database_id)
    if schema is None or not _fits(schema, data_source_id):
        schema = read_schema(api, database_id, data_source_id)
        store_schema(redis, schema, ttl)
    _local[database_id] = (now + ttl, schema)
    return schema


def forget_schema(database_id: str) -> None:
    """Drop this process's copy (after Notion said a property we sent does not exist)."""
    _local.pop(database_id, None)


def _fits(schema: DatabaseSchema, data_source_id: str | None) -> bool:
    return data_source_id is None or schema.data_source_id == data_source_id
