"""Which provider serves an item: the AIModel its task names, or the default one.

An AIModel row says the provider ("offline" or "openai") and may override the model name, the base URL
and a few tunables (`config`: context_tokens, requests_per_minute, tokens_per_minute, timeout_seconds,
temperature). The server's API key (settings, a Kubernetes Secret) is sent only to operator models (owner NULL); a
tenant's model carries its own key, Fernet-encrypted in SQL (gleaner.secrets), and its endpoint is
reached only through the address guard (gleaner.addresses), as a page fetch is.
Providers are built once per process and model, so an OpenAI client keeps its connections.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from redis import Redis
from sqlalchemy.orm import Session

from gleaner.aimodels import default_model, usable_model
from gleaner.errors import PermanentError
from gleaner.models import AIModel
from gleaner.settings import Settings
from gleaner_ai.providers.base import Provider
from gleaner_ai.providers.offline import OfflineProvider

if TYPE_CHECKING:
    from gleaner_ai.providers.openai import OpenAIConfig

PROVIDERS = ("offline", "openai")
"""Provider names an AIModel row may carry."""

_built: dict[str, Provider] = {}


def find_model(session: Session, owner: str, model_id: Any = None) -> AIModel:
    """The AIModel named by id, or the owner's default; PermanentError(model_not_found) when there is none.

    The task's owner may use only its own models and the operator's (gleaner.aimodels), checked here
    again: a task row is not proof that the API checked it.
    """
    if model_id is not None:
        try:
            model = usable_model(session, owner, int(model_id))
        except (TypeError, ValueError, OverflowError):
            model = None
        if model is None:
            raise PermanentError(
                f"AI model {model_id!r} does not exist", code="model_not_found"
            )
        return model
    model = default_model(session, owner)
    if model is None:
        raise PermanentError(
            "no AI model is marked as the default and the task names none",
            code="model_not_found",
        )
    return model


def openai_config(model: AIModel, settings: Settings) -> OpenAIConfig:
    """Settings, overridden by what the model row says."""
    from gleaner_ai.providers.openai import OpenAIConfig

    extra = model.config or {}
    if model.owner is None:
        key = (
            settings.OPENAI_API_KEY.get_secret_value()
            if settings.OPENAI_API_KEY
            else ""
        )
    else:  # a tenant's model gets its own key, never the server's
        # imported here: cryptography is needed by openai models only
        from gleaner.secrets import decrypt_model_key

        key = (
            decrypt_model_key(settings, model.api_key_encrypted)
            if model.api_key_encrypted
            else ""
        )
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
            model.owner,
            model.api_key_encrypted,
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
        # Imported on first use: the OpenAI SDK is half the worker's start-up, and most run offline.
        from gleaner.netguard import settings_policy
        from gleaner_ai.providers.guard import guarded_client
        from gleaner_ai.providers.openai import OpenAIProvider

        try:
            # A tenant chose this endpoint: every connection passes the fetcher's address rules.
            guarded = (
                guarded_client(settings_policy(settings))
                if model.owner is not None
                else None
            )
            provider = OpenAIProvider(openai_config(model, settings), redis, guarded)
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
