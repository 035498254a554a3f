"""Request and response bodies of what a tenant configures: AI models, schedules, webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from gleaner.schedules import CRON_PATTERN
from gleaner_api.schemas import Id, Integral, PipelineCreate, Strict

# --- AI models --------------------------------------------------------------------------------------


class AIModelCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    provider: Literal["offline", "openai"]
    model: str = Field(default="", max_length=200)
    base_url: str | None = Field(
        default=None,
        max_length=2000,
        json_schema_extra={"format": "uri"},
        description="an OpenAI-compatible endpoint; must be a public address (or one the operator allowed)",
    )
    api_key: SecretStr | None = Field(
        default=None,
        max_length=1000,
        description="this model's provider key: stored encrypted, never returned (the server's own key is never sent to a tenant's model)",
    )
    config: dict[str, Any] = Field(default_factory=dict)
    is_default: bool = Field(
        default=False, description="serve this tenant's requests that name no model"
    )


class AIModelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner: str | None = Field(
        description="null: an operator's model, usable by every tenant"
    )
    has_api_key: bool
    name: str
    provider: str
    model: str
    base_url: str | None
    config: dict[str, Any]
    is_default: bool
    created_at: datetime


# --- schedules --------------------------------------------------------------------------------------


CronText = Annotated[
    str,
    # The pattern is published, and checked by gleaner.schedules.check_timing (422 invalid_cron).
    Field(max_length=120, json_schema_extra={"pattern": CRON_PATTERN}),
]


class ScheduleCreate(Strict):
    name: str = Field(min_length=1, max_length=100, examples=["morning news"])
    cron: CronText | None = Field(
        default=None,
        description="five-field cron expression, read in `timezone`; or give interval_seconds",
        examples=["0 7 * * 1-5"],
    )
    timezone: str = Field(
        default="UTC",
        max_length=64,
        description="IANA time zone of `cron`",
        examples=["Europe/Paris"],
    )
    interval_seconds: Annotated[int, Field(ge=1), Integral] | None = Field(
        default=None,
        description="fire every this many seconds instead of on a cron expression",
    )
    feed_url: str | None = Field(
        default=None,
        min_length=8,
        max_length=2048,
        json_schema_extra={"format": "uri"},
        description="an RSS or Atom feed: each firing fetches it (with the page fetcher's address "
        "guard and allow list) and runs its entries not filed before; `pipeline` then gives no "
        "`urls` or `link_ids`",
        examples=["https://example.org/news/feed.xml"],
    )
    pipeline: PipelineCreate = Field(
        description="the POST /api/pipelines body each firing submits (without `after`); for a "
        "feed, the stages and options its entries run with",
        examples=[{"urls": ["https://example.org/news"], "stages": ["parsing", "ai"]}],
    )


FiringOutcome = Literal["created", "failed", "no_new_entries", "fetching", "fetched"]
"""gleaner.feeds names them: a plain schedule's firing is created or failed."""


class ScheduleFiringRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    tick_at: datetime = Field(
        description="the due time it fired for (the request's time for run-now)"
    )
    manual: bool
    outcome: FiringOutcome = Field(
        description="created (see task_id), failed (see error), no_new_entries (a feed had "
        "nothing new); while a feed firing is under way: fetching, then fetched",
        examples=["no_new_entries"],
    )
    task_id: int | None
    error: str | None = Field(
        description="why it failed: `code: reason`",
        examples=[
            "feed_invalid: https://example.org/feed.xml is not a readable RSS or Atom feed"
        ],
    )
    fired_at: datetime
    new_entries: int | None = Field(
        default=None, description="a feed firing's entries not filed before"
    )


class ScheduleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    cron: str | None
    timezone: str
    interval_seconds: int | None
    feed_url: str | None = Field(description="the feed each firing reads, if any")
    pipeline: dict[str, Any]
    paused: bool
    next_fire_at: datetime | None = Field(
        description="the next firing (None while paused)"
    )
    last_fired_at: datetime | None
    last_outcome: FiringOutcome | None = Field(
        description="created, failed, no_new_entries, or fetching (a feed firing under way)"
    )
    last_task_id: int | None
    last_error: str | None
    created_at: datetime
    firings: list[ScheduleFiringRead] | None = Field(
        default=None,
        description="the latest firings, newest first (on GET of one schedule)",
    )


# --- webhooks ---------------------------------------------------------------------------------------


class WebhookCreate(Strict):
    url: str = Field(
        min_length=8,
        max_length=2000,
        json_schema_extra={"format": "uri"},
        description="http(s) URL; private, loopback and metadata addresses are refused",
        examples=["https://hooks.example.org/gleaner"],
    )
    task_id: Id | None = Field(
        default=None,
        description="only this task's events (default: every task of yours)",
    )
    per_item: bool = Field(
        default=False, description="also one event per item that ends"
    )


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    task_id: int | None
    per_item: bool
    created_at: datetime
    disabled_at: datetime | None = Field(
        description="set when the receiver answered 410"
    )
    disabled_reason: str | None


class WebhookCreated(WebhookRead):
    secret: str = Field(
        description="the signing secret (whsec_…), shown only now: verify `webhook-signature` with it",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookDeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event: Literal["task.ended", "item.ended"]
    event_key: str
    state: Literal["pending", "delivered", "failed", "disabled"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    log: list[dict[str, Any]] = Field(
        description="every attempt: at, status_code, error, duration"
    )
    payload: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None
