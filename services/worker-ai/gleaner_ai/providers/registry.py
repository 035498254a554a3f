"""Which provider serves an item: the AIModel its task names, or the default one.

An AIModel row says the provider ("offline" or "openai") and may override the model name, the base URL
and a few tunables (`config`: context_tokens, requests_per_minute, tokens_per_minute, timeout_seconds,
temperature). The API key is never stored in SQL: it comes from settings (a Kubernetes Secret).
Providers are built once per process and model, so an OpenAI client keeps its connections.
"""

from __future__ import annotations

import json
from typing import Any

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from gleaner.errors import PermanentError
from gleaner.models import AIModel
from gleaner.settings import Settings
from gleaner_ai.providers.base import Provider
from gleaner_ai.providers.offline import OfflineProvider
from gleaner_ai.providers.openai import OpenAIConfig, OpenAIProvider

PROVIDERS = ("offline", "openai")
"""Provider names an AIModel row may carry."""

_built: dict[str, Provider] = {}


def find_model(session: Session, model_id: Any = None) -> AIModel:
    """The AIModel named by id, or the default; PermanentError(model_not_found) when there is none."""
    if model_id is not None:
        try:
            model = session.get(AIModel, int(model_id))
        except (TypeError, ValueError):
            model = None
        if model is None:
            raise PermanentError(
                f"AI model {model_id!r} does not exist", code="model_not_found"
            )
        return model
    model = session.scalars(
        select(AIModel).where(AIModel.is_default.is_(True)).order_by(AIModel.id)
    ).first()
    if model is None:
        raise PermanentError(
            "no AI model is marked as the default and the task names none",
            code="model_not_found",
        )
    return model


def openai_config(model: AIModel, settings: Settings) -> OpenAIConfig:
    """Settings, overridden by what the model row says."""
    extra = model.config or {}
    key = settings.OPENAI_API_KEY.get_secret_value() if settings.OPENAI_API_KEY else ""
    return OpenAIConfig(
        base_url=model.base_url or settings.OPENAI_BASE_URL,
        # A self-hosted server may need no key, but the client refuses an empty one.
        api_key=key or "not-set",
        model=model.model or settings.OPENAI_MODEL,
        timeout_seconds=float(
            extra.get("timeout_seconds", settings.OPENAI_TIMEOUT_SECONDS)
        ),
        context_tokens=int(extra.get("context_tokens", settings.OPENAI_CONTEXT_TOKENS)),
        requests_per_minute=float(
            extra.get("requests_per_minute", settings.AI_REQUESTS_PER_MINUTE)
        ),
        tokens_per_minute=float(
            extra.get("tokens_per_minute", settings.AI_TOKENS_PER_MINUTE)
        ),
        summary_sentences=settings.SUMMARY_SENTENCES,
        keywords_max=settings.KEYWORDS_MAX,
        temperature=float(extra["temperature"])
        if extra.get("temperature") is not None
        else None,
    )


def build_provider(model: AIModel, settings: Settings, redis: Redis) -> Provider:
    """The provider for a model row, reused while the row stays the same."""
    cache_key = json.dumps(
        [
            id(redis),
            model.id,
            model.provider,
            model.model,
            model.base_url,
            model.config,
        ],
        sort_keys=True,
        default=str,
    )
    provider = _built.get(cache_key)
    if provider is not None:
        return provider
    if model.provider == "offline":
        provider = OfflineProvider(
            summary_sentences=settings.SUMMARY_SENTENCES,
            keywords_max=settings.KEYWORDS_MAX,
        )
    elif model.provider == "openai":
        try:
            provider = OpenAIProvider(openai_config(model, settings), redis)
        except (TypeError, ValueError) as exc:
            raise PermanentError(
                f"AI model {model.name!r} is misconfigured: {exc}",
                code="model_misconfigured",
            ) from exc
    else:
        raise PermanentError(
            f"AI model {model.name!r} has provider {model.provider!r}; known: {', '.join(PROVIDERS)}",
            code="unknown_provider",
        )
    _built[cache_key] = provider
    return provider
