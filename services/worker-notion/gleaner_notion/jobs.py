"""The notion stage's job: file an item's AI digest as a page in the task's Notion database.

Target: `task.config["notion"]["database_id"]`, else GLEANER_NOTION_DATABASE_ID; user property values
from `task.config["notion"]["properties"]`. Without GLEANER_NOTION_TOKEN the stage runs dry: the exact
requests are stored on the NotionImport (state dry_run) and the item completes.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gleaner.errors import PermanentError
from gleaner.execution import ItemContext, execute_item
from gleaner.models import AIProcessedContent, NotionImport, NotionImportState
from gleaner.notion_rules import is_notion_id
from gleaner.runtime import Runtime
from gleaner_notion.client import NotionApi, token_of
from gleaner_notion.mapping import (
    DATA_SOURCE_PLACEHOLDER,
    DATABASE_PLACEHOLDER,
    Article,
    default_schema,
    plan_page,
    planned_requests,
)
from gleaner_notion.pages import file_page, filing_lease
from gleaner_notion.schema import load_schema

_apis: dict[tuple[str, str, int], NotionApi] = {}
_apis_lock = threading.Lock()  # a worker process runs jobs in several threads


def import_item(item_id: int) -> dict[str, Any]:
    return execute_item("notion", item_id, import_body)


def import_body(ctx: ItemContext) -> dict[str, Any]:
    ai = (
        ctx.session.get(AIProcessedContent, ctx.item.ai_content_id)
        if ctx.item.ai_content_id
        else None
    )
    if ai is None:
        raise PermanentError(
            "the item has no AI result to file", code="ai_content_missing"
        )
    config: dict[str, Any] = ctx.task.config.get("notion") or {}
    database_id = str(config.get("database_id") or ctx.settings.NOTION_DATABASE_ID)
    dry_run = not token_of(ctx.settings)
    if not database_id and dry_run:
        # The local stack shows what it would file even before a database is chosen.
        database_id = DATABASE_PLACEHOLDER
    if not database_id:
        raise PermanentError(
            "no Notion database: name one in the request or set GLEANER_NOTION_DATABASE_ID",
            code="notion_database_missing",
        )
    if database_id != DATABASE_PLACEHOLDER and not is_notion_id(database_id):
        raise PermanentError(
            f"the Notion database id {database_id[:80]!r} is not a UUID",
            code="notion_invalid_database_id",
        )
    user_properties: dict[str, Any] = config.get("properties") or {}
    article = article_of(ai)

    if dry_run:
        plan = plan_page(article, default_schema(database_id), user_properties)
        record = record_intent(
            ctx.session, ai, database_id, article.source_url, user_properties
        )
        if record.state in (NotionImportState.PENDING, NotionImportState.DRY_RUN):
            record.state = NotionImportState.DRY_RUN
            record.requests = planned_requests(plan, DATA_SOURCE_PLACEHOLDER)
    else:
        api = api_for(ctx.runtime)
        schema = load_schema(
            api, ctx.runtime.redis, database_id, config.get("data_source_id")
        )
        plan = plan_page(article, schema, user_properties)
        record = record_intent(
            ctx.session, ai, database_id, article.source_url, user_properties
        )
        if record.state != NotionImportState.CREATED:
            with filing_lease(
                ctx.runtime.redis, record.idempotency_key, owner=str(ctx.item.id)
            ):
                ctx.session.refresh(record)
                file_page(ctx.session, record, api, schema, plan, ctx.checkpoint)

    ctx.item.notion_import_id = record.id
    return {
        "notion_import_id": record.id,
        "page_id": record.page_id,
        "page_url": record.page_url,
        "state": record.state,
    }


def article_of(ai: AIProcessedContent) -> Article:
    parsed = ai.parsed_content
    source_url = parsed.final_url or parsed.link.url
    return Article(
        source_url=source_url,
        title=(parsed.title or "").strip() or source_url,
        summary=ai.summary or "",
        keywords=[_text(keyword, "keyword") for keyword in ai.keywords or []],
        insights=[_text(insight, "insight") for insight in ai.insights or []],
        published=parsed.published_date,
    )


def _text(value: Any, key: str) -> str:
    """Keywords and insights are strings, or objects holding one (`{"keyword": …}`, `{"text": …}`)."""
    if isinstance(value, dict):
        value = value.get(key) or value.get("text") or value.get("name") or ""
    return str(value)


def idempotency_key(database_id: str, source_url: str) -> str:
    return hashlib.sha256(f"{database_id}\n{source_url}".encode()).hexdigest()


def record_intent(
    session: Session,
    ai: AIProcessedContent,
    database_id: str,
    source_url: str,
    properties: dict[str, Any],
) -> NotionImport:
    """The NotionImport for this database and URL, created and committed if it is not there yet."""
    key = idempotency_key(database_id, source_url)
    found = session.scalars(
        select(NotionImport).where(NotionImport.idempotency_key == key)
    ).one_or_none()
    if found is not None:
        return found
    record = NotionImport(
        ai_content_id=ai.id,
        database_id=database_id,
        idempotency_key=key,
        source_url=source_url,
        state=NotionImportState.PENDING,
        properties=properties,
        requests=[],
    )
    session.add(record)
    try:
        session.commit()  # the intent is durable before anything is sent
    except IntegrityError:
        session.rollback()  # another item recorded the same intent first: share it
        return session.scalars(
            select(NotionImport).where(NotionImport.idempotency_key == key)
        ).one()
    return record


def api_for(runtime: Runtime) -> NotionApi:
    """One client per process and token (it holds the HTTP connection pool)."""
    settings = runtime.settings
    key = (token_of(settings), settings.NOTION_BASE_URL, id(runtime.redis))
    with _apis_lock:
        if key not in _apis:
            _apis[key] = NotionApi.from_settings(settings, runtime.redis)
        return _apis[key]
