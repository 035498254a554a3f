"""The ai stage's job: a parsed article in, an AIProcessedContent row out, the item on to the next stage."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind
from sqlalchemy import select
from sqlalchemy.orm import Session

from gleaner import tracing
from gleaner.db import insert_ignoring_conflicts
from gleaner.errors import PermanentError
from gleaner.execution import ItemContext, execute_item
from gleaner.models import AIModel, AIProcessedContent, ParsedContent
from gleaner_ai.providers.base import AIResult, ProcessingOptions
from gleaner_ai.providers.registry import build_provider, find_model


def process_item(item_id: int) -> dict[str, Any]:
    return execute_item("ai", item_id, digest_article)


def digest_article(ctx: ItemContext) -> dict[str, Any]:
    """Run the task's model (or the default) over the item's parsed article and store the digest."""
    parsed = _parsed_content(ctx)
    model = find_model(
        ctx.session, ctx.task.owner, (ctx.task.config or {}).get("model_id")
    )
    options = ProcessingOptions.from_config(
        (ctx.task.config or {}).get("processing_config"), parsed.language
    )
    provider = build_provider(model, ctx.runtime.settings, ctx.runtime.redis)
    ctx.checkpoint()
    with tracing.span(
        f"chat {model.model}",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": model.provider,
            "gen_ai.request.model": model.model,
        },
        kind=SpanKind.INTERNAL if model.provider == "offline" else SpanKind.CLIENT,
    ) as calling:
        result = provider.process(
            parsed.text, parsed.title, options, checkpoint=ctx.checkpoint
        )
        tracing.set_attributes(calling, gen_ai_usage(result))
    ctx.checkpoint()
    row = save_result(ctx.session, parsed, model, options, result)
    ctx.item.ai_content_id = row.id
    return {
        "ai_content_id": row.id,
        "model_id": model.id,
        "provider": model.provider,
        "summary_chars": len(row.summary or ""),
        "keywords": len(row.keywords),
        "insights": len(row.insights),
        "calls": result.usage.get("calls", 0),
        "total_tokens": result.usage.get("total_tokens", 0),
    }


def gen_ai_usage(result: AIResult) -> dict[str, Any]:
    """The call's usage in OpenTelemetry's gen_ai attributes; re-asks for a malformed answer as retries."""
    usage = result.usage
    return {
        "gen_ai.usage.input_tokens": usage.get("prompt_tokens"),
        "gen_ai.usage.output_tokens": usage.get("completion_tokens"),
        "gleaner.ai.calls": usage.get("calls"),
        "gleaner.ai.chunks": usage.get("chunks"),
        "gleaner.ai.retries": usage.get("bad_outputs"),
        "gleaner.ai.rate_limit_wait_seconds": usage.get("rate_limit_wait_seconds"),
    }


def _parsed_content(ctx: ItemContext) -> ParsedContent:
    """The item's parsed article: by its own column, or through its link for a link-only input."""
    item = ctx.item
    parsed: ParsedContent | None = None
    if item.parsed_content_id is not None:
        parsed = ctx.session.get(ParsedContent, item.parsed_content_id)
    elif item.link_id is not None:
        parsed = ctx.session.scalars(
            select(ParsedContent).where(ParsedContent.link_id == item.link_id)
        ).first()
    if parsed is None:
        raise PermanentError(
            "the item has no parsed content (parse the link first, or it was deleted)",
            code="parsed_content_missing",
        )
    return parsed


def save_result(
    session: Session,
    parsed: ParsedContent,
    model: AIModel,
    options: ProcessingOptions,
    result: AIResult,
) -> AIProcessedContent:
    """Insert or update the one row per (article, model); a racing twin meets ON CONFLICT, not an error."""
    insert_ignoring_conflicts(
        session,
        AIProcessedContent,
        [{"parsed_content_id": parsed.id, "model_id": model.id}],
        ["parsed_content_id", "model_id"],
    )
    row = session.scalars(
        select(AIProcessedContent).where(
            AIProcessedContent.parsed_content_id == parsed.id,
            AIProcessedContent.model_id == model.id,
        )
    ).one()
    row.summary = result.summary
    row.keywords = list(result.keywords)
    row.insights = list(result.insights)
    row.processing_config = options.as_dict()
    row.usage = dict(result.usage)
    session.flush()
    return row
