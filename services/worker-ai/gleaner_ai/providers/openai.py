"""Any OpenAI-compatible chat-completions API: one structured call per item, map-reduce for long texts.

- One call returns the whole digest as JSON matching `DIGEST_SCHEMA` (response_format json_schema,
  strict), validated with pydantic. A text too long for the context is split (gleaner_ai.providers.chunks),
  each part digested, and the part digests combined by one more call.
- Every call takes from two token buckets in Redis shared by all ai replicas (gleaner.ratelimit): one
  request, and the call's estimated tokens. A 429 pauses the request bucket for every replica.
- The client never retries on its own (max_retries=0): the job runner owns retries and their delays.
  429 and 5xx → RetryableError honouring Retry-After; invalid requests, context-length errors and
  refusals → PermanentError with the provider's message; an answer that is not the schema is asked for
  once more, then fails with `bad_model_output`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from typing import Any

import httpx2
import openai
from openai import OpenAI, omit
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import BaseModel, ConfigDict, ValidationError
from redis import Redis

from gleaner.addresses import BlockedAddress
from gleaner.errors import (
    GleanerError,
    PermanentError,
    RetryableError,
    parse_retry_after,
    retryable_http_status,
)
from gleaner.language import detect_language, language_name
from gleaner.ratelimit import TokenBucket
from gleaner_ai.providers.base import (
    AIResult,
    Checkpoint,
    ProcessingOptions,
    no_checkpoint,
    require_text,
)
from gleaner_ai.providers.chunks import estimate_tokens, split_text

DEFAULT_OUTPUT_TOKENS = 1024
"""Tokens kept free in the context for the answer (a quarter of a smaller context)."""

DEFAULT_LIMIT_WAIT = 30.0
"""Seconds a call waits for the shared rate limit before the item is retried later instead."""

DEFAULT_PAUSE = 1.0
"""Seconds every replica pauses after a 429 that carries no Retry-After."""

DEFAULT_INSIGHTS = 5
"""Insights asked for."""

BAD_OUTPUT_ATTEMPTS = 2
"""Calls per request when the answer is not the schema: the first, and one more."""

# Strict structured output: every property required, nothing else allowed.
DIGEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "keywords": {"type": "array", "items": {"type": "string"}},
        "insights": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["summary", "keywords", "insights"],
    "additionalProperties": False,
}

RESPONSE_FORMAT: ResponseFormatJSONSchema = {
    "type": "json_schema",
    "json_schema": {"name": "article_digest", "strict": True, "schema": DIGEST_SCHEMA},
}

# The provider's error codes (body.error.code) that tell a permanent failure apart.
_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
_REFUSAL_CODES = frozenset(
    {"content_filter", "content_policy_violation", "invalid_prompt"}
)


class Digest(BaseModel):
    """What the model must answer."""

    model_config = ConfigDict(extra="forbid")

    summary: str
    keywords: list[str]
    insights: list[str]


class BadOutput(Exception):
    """The answer was not a digest: not JSON, not the schema, cut off, or empty where text was asked."""


@dataclass(frozen=True)
class OpenAIConfig:
    base_url: str
    api_key: str
    model: str
    timeout_seconds: float = 60.0
    context_tokens: int = 16000
    requests_per_minute: float = 500.0
    tokens_per_minute: float = 200000.0
    summary_sentences: int = 5
    keywords_max: int = 10
    temperature: float | None = None

    @property
    def limit_key(self) -> str:
        """One budget per endpoint and model, shared by every replica (providers limit per model)."""
        digest = hashlib.sha256(
            f"{self.base_url.rstrip('/')}|{self.model}".encode()
        ).hexdigest()[:16]
        return f"gleaner:ratelimit:ai:{digest}"


@dataclass
class _Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    bad_outputs: int = 0
    waited_seconds: float = 0.0
    model: str = ""

    def add(self, completion: ChatCompletion) -> None:
        self.calls += 1
        self.model = completion.model or self.model
        usage = completion.usage
        if usage is not None:
            self.prompt_tokens += usage.prompt_tokens or 0
            self.completion_tokens += usage.completion_tokens or 0
            self.total_tokens += usage.total_tokens or 0


class OpenAIProvider:
    """Summary, keywords and insights from a hosted (or self-hosted) chat model."""

    def __init__(
        self,
        config: OpenAIConfig,
        redis: Redis,
        http_client: httpx2.Client | None = None,
    ) -> None:
        """`http_client`: a guarded one (gleaner_ai.providers.guard) for an endpoint a tenant chose."""
        self.config = config
        self.client = OpenAI(
            base_url=config.base_url,
            api_key=config.api_key,
            max_retries=0,
            timeout=config.timeout_seconds,
            http_client=http_client,
        )
        self.output_tokens = min(DEFAULT_OUTPUT_TOKENS, config.context_tokens // 4)
        rps = config.requests_per_minute / 60
        tps = config.tokens_per_minute / 60
        self.requests = TokenBucket(
            redis, f"{config.limit_key}:requests", rps, max(1, math.ceil(rps))
        )
        # A call takes its whole estimate at once, so the bucket must hold at least one full context.
        self.tokens = TokenBucket(
            redis,
            f"{config.limit_key}:tokens",
            tps,
            max(config.context_tokens, math.ceil(tps)),
        )

    # --- prompts -------------------------------------------------------------------------------------

    def _instructions(self, options: ProcessingOptions, combining: bool) -> str:
        cfg = self.config
        asked = [
            f"summary: {cfg.summary_sentences} sentences or fewer, faithful to the text"
            if options.generate_summary
            else 'summary: "" (not wanted)',
            f"keywords: up to {cfg.keywords_max} short key phrases, best first"
            if options.generate_keywords
            else "keywords: [] (not wanted)",
            f"insights: up to {DEFAULT_INSIGHTS} key claims, figures or named people, places and organisations "
            "from the text, one sentence each"
            if options.generate_insights
            else "insights: [] (not wanted)",
        ]
        source = (
            "You are given digests of consecutive parts of one article, as JSON. Combine them into one "
            "digest of the whole article."
            if combining
            else "You are given an article. Write a digest of it."
        )
        name = language_name(options.language)
        language = (
            f"\nThe article is in {name} ({options.language}). Write the summary, keywords and "
            f"insights in {name}, whatever language these instructions are in."
            if name
            else "\nWrite in the language of the text."
        )
        return (
            f"{source} Answer with one JSON object and nothing else:\n- "
            + "\n- ".join(asked)
            + "\nUse only what the text says."
            + language
        )

    def _fixed_tokens(self, options: ProcessingOptions) -> int:
        """The prompt's own size and the answer's room: what a part of the text cannot use."""
        return (
            estimate_tokens(self._instructions(options, combining=True))
            + self.output_tokens
            + 64
        )

    # --- one call ------------------------------------------------------------------------------------

    def _acquire(self, estimated_tokens: int, usage: _Usage) -> None:
        usage.waited_seconds += self.requests.acquire(1, timeout=DEFAULT_LIMIT_WAIT)
        usage.waited_seconds += self.tokens.acquire(
            min(estimated_tokens, self.tokens.burst), timeout=DEFAULT_LIMIT_WAIT
        )

    def _complete(
        self, system: str, user: str, options: ProcessingOptions, usage: _Usage
    ) -> Digest:
        """One digest from the model; a malformed answer is asked for once more."""
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        temperature = (
            omit if self.config.temperature is None else self.config.temperature
        )
        last: BadOutput | None = None
        for _ in range(BAD_OUTPUT_ATTEMPTS):
            self._acquire(
                estimate_tokens(system) + estimate_tokens(user) + self.output_tokens,
                usage,
            )
            try:
                completion = self.client.chat.completions.create(
                    model=self.config.model,
                    messages=messages,
                    response_format=RESPONSE_FORMAT,
                    temperature=temperature,
                )
            except openai.APIResponseValidationError as exc:
                last = BadOutput(f"the answer is not a chat completion: {exc.message}")
                usage.bad_outputs += 1
                continue
            except openai.APIError as exc:
                raise self._error(exc) from exc
            except (
                BlockedAddress
            ) as exc:  # a tenant's endpoint, refused by the address guard
                raise PermanentError(
                    f"the model's address is not allowed: {exc.reason}",
                    code="blocked_port" if exc.port_rule else "blocked_address",
                ) from exc
            usage.add(completion)
            try:
                return _digest_from(completion, options, self.config.keywords_max)
            except BadOutput as exc:
                last = exc
                usage.bad_outputs += 1
        raise PermanentError(
            f"the model's answer was not a valid digest after {BAD_OUTPUT_ATTEMPTS} attempts: {last}",
            code="bad_model_output",
        )

    def _error(self, exc: openai.APIError) -> GleanerError:
        """The failure model's error for a provider error, with the provider's own message."""
        if isinstance(exc, openai.APITimeoutError):
            return RetryableError(
                f"no answer from the model within {self.config.timeout_seconds:g}s",
                code="timeout",
            )
        if isinstance(exc, openai.APIConnectionError):
            return RetryableError(
                f"cannot reach the model's API: {exc.message}", code="connection_error"
            )
        if not isinstance(exc, openai.APIStatusError):
            return RetryableError(exc.message, code="provider_error")
        status = exc.status_code
        body = exc.body if isinstance(exc.body, dict) else {}
        message = f"{self.config.model} answered {status}: {body.get('message') or exc.message}"
        code = str(body.get("code") or body.get("type") or "")
        retry_after = _retry_after(exc.response.headers)
        if status == 429 and code == "insufficient_quota":
            return PermanentError(
                message, code="insufficient_quota"
            )  # billing, not a rate: retries cannot help
        if status == 429:
            self.requests.pause(
                retry_after if retry_after is not None else DEFAULT_PAUSE
            )
            return RetryableError(message, code="rate_limited", retry_after=retry_after)
        if retryable_http_status(status):
            return RetryableError(
                message, code=f"http_{status}", retry_after=retry_after
            )
        if code in _CONTEXT_CODES:
            return PermanentError(message, code="context_length_exceeded")
        if code in _REFUSAL_CODES:
            return PermanentError(message, code="content_refused")
        if status in (400, 422):
            return PermanentError(message, code="invalid_request")
        return PermanentError(message, code=f"http_{status}")

    # --- the item ------------------------------------------------------------------------------------

    def process(
        self,
        text: str,
        title: str | None,
        options: ProcessingOptions,
        checkpoint: Checkpoint = no_checkpoint,
    ) -> AIResult:
        text = require_text(text)
        # The model is told the article's language; rows stored without one get it from the text.
        options = replace(options, language=detect_language(text, options.language))
        usage = _Usage()
        room = self.config.context_tokens - self._fixed_tokens(options)
        if room < 200:
            raise PermanentError(
                f"a context of {self.config.context_tokens} tokens leaves no room for the text",
                code="invalid_request",
            )
        heading = f"Title: {title}\n\n" if title else ""
        parts = split_text(text, room - estimate_tokens(heading))
        single = self._instructions(options, combining=False)
        if len(parts) == 1:
            digest = self._complete(single, heading + parts[0], options, usage)
        else:
            partials = []
            for number, part in enumerate(parts, start=1):
                checkpoint()
                label = f"{heading}Part {number} of {len(parts)}:\n\n"
                partials.append(self._complete(single, label + part, options, usage))
            digest = self._combine(partials, heading, options, room, usage, checkpoint)
        return AIResult(
            summary=digest.summary or None,
            keywords=digest.keywords,
            insights=digest.insights,
            usage={
                "calls": usage.calls,
                "chunks": len(parts),
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
                "bad_outputs": usage.bad_outputs,
                "rate_limit_wait_seconds": round(usage.waited_seconds, 3),
                "model": usage.model or self.config.model,
            },
        )

    def _combine(
        self,
        partials: list[Digest],
        heading: str,
        options: ProcessingOptions,
        room: int,
        usage: _Usage,
        checkpoint: Checkpoint,
    ) -> Digest:
        """One digest from many, in as many rounds as the context needs."""
        system = self._instructions(options, combining=True)
        while len(partials) > 1:
            groups: list[list[Digest]] = [[]]
            for partial in partials:
                if (
                    groups[-1]
                    and estimate_tokens(heading + _as_json(groups[-1] + [partial]))
                    > room
                ):
                    groups.append([])
                groups[-1].append(partial)
            if len(groups) == len(partials) and len(partials) > 1:
                groups = [
                    partials[i : i + 2] for i in range(0, len(partials), 2)
                ]  # always make progress
            checkpoint()
            partials = [
                self._complete(system, heading + _as_json(group), options, usage)
                for group in groups
            ]
        return partials[0]


def _as_json(partials: list[Digest]) -> str:
    return json.dumps([p.model_dump() for p in partials], ensure_ascii=False)


def _retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` (OpenAI's own) or `Retry-After`."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    return parse_retry_after(headers.get("retry-after"))


def _clean(values: list[str], limit: int) -> list[str]:
    """Stripped, non-empty, without case-insensitive repeats, at most `limit`."""
    seen: set[str] = set()
    kept: list[str] = []
    for value in values:
        value = " ".join(value.split())
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            kept.append(value)
    return kept[:limit]


def _digest_from(
    completion: ChatCompletion, options: ProcessingOptions, keywords_max: int
) -> Digest:
    """The validated digest in a completion; PermanentError on a refusal, BadOutput on anything else."""
    if not completion.choices:
        raise BadOutput("the answer has no choices")
    choice = completion.choices[0]
    if choice.finish_reason == "content_filter":
        raise PermanentError(
            "the provider's content filter stopped the answer", code="content_refused"
        )
    refusal = getattr(choice.message, "refusal", None)
    if refusal:
        raise PermanentError(f"the model refused: {refusal}", code="content_refused")
    if choice.finish_reason == "length":
        raise BadOutput("the answer was cut off at the length limit")
    try:
        digest = Digest.model_validate_json(choice.message.content or "")
    except ValidationError as exc:
        raise BadOutput(f"not the digest schema: {exc.errors()[0]['msg']}") from exc
    summary = " ".join(digest.summary.split()) if options.generate_summary else ""
    if options.generate_summary and not summary:
        raise BadOutput("the summary is empty")
    return Digest(
        summary=summary,
        keywords=_clean(digest.keywords, keywords_max)
        if options.generate_keywords
        else [],
        insights=_clean(digest.insights, 2 * DEFAULT_INSIGHTS)
        if options.generate_insights
        else [],
    )
