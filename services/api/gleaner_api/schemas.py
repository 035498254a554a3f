"""Request and response bodies. Field names follow the original design (docs/seeds 004)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from gleaner.queues import PIPELINE_STAGES
from gleaner.settings import Stage

T = TypeVar("T")

MAX_ID = 2**63 - 1
"""Ids are 64-bit signed integers in SQL: a larger one is a 422 naming the field, not an overflow."""

Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Strict(BaseModel):
    """Request bodies reject unknown fields, so a typo is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


# --- links ------------------------------------------------------------------------------------------


class LinkCreate(Strict):
    url: str | None = Field(default=None, description="one URL")
    urls: list[str] | None = Field(default=None, description="or many URLs")


class LinkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    normalized_url: str
    created_at: datetime


class ParsedContentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    final_url: str
    canonical_url: str | None
    title: str | None
    text: str
    author: str | None
    published_date: date | None
    site_name: str | None
    language: str | None
    word_count: int
    content_hash: str
    created_at: datetime


class AIContentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    parsed_content_id: int
    model_id: int
    summary: str | None
    keywords: list[Any]
    insights: list[Any]
    usage: dict[str, Any]
    created_at: datetime


class NotionImportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    ai_content_id: int
    database_id: str
    state: str
    page_id: str | None
    page_url: str | None
    error: str | None
    requests: list[Any]
    created_at: datetime


class LinkDetail(LinkRead):
    parsed: ParsedContentRead | None = None
    ai: list[AIContentRead] = []
    notion: list[NotionImportRead] = []


class LinksCreated(BaseModel):
    success: bool = True
    links: list[LinkRead]
    created: int


# --- tasks ------------------------------------------------------------------------------------------


class ProcessingConfig(Strict):
    generate_summary: bool = True
    generate_keywords: bool = True
    generate_insights: bool = True


NotionId = Annotated[
    str,
    Field(
        pattern=r"^([0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$",
        description="a Notion id: a UUID, with or without dashes",
    ),
]


class NotionTarget(Strict):
    database_id: NotionId | None = Field(
        default=None, description="default: GLEANER_NOTION_DATABASE_ID"
    )
    properties: dict[str, Any] = Field(
        default_factory=dict, description="page properties merged into each page"
    )


class PipelineCreate(Strict):
    urls: list[str] | None = None
    link_ids: list[Id] | None = None
    stages: list[Stage] = Field(default_factory=lambda: list(PIPELINE_STAGES))
    processing_config: ProcessingConfig = Field(default_factory=ProcessingConfig)
    model_id: Id | None = None
    notion: NotionTarget = Field(default_factory=NotionTarget)
    priority: Literal["normal", "high"] = "normal"


class ParsingBatch(Strict):
    link_ids: list[Id]
    priority: Literal["normal", "high"] = "normal"


class AIBatch(Strict):
    parsed_content_ids: list[Id]
    model_id: Id | None = None
    processing_config: ProcessingConfig = Field(default_factory=ProcessingConfig)
    priority: Literal["normal", "high"] = "normal"


class AISingle(Strict):
    model_id: Id | None = None
    processing_config: ProcessingConfig = Field(default_factory=ProcessingConfig)
    priority: Literal["normal", "high"] = "normal"


class NotionBatch(Strict):
    ai_content_ids: list[Id]
    database_id: NotionId | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    priority: Literal["normal", "high"] = "normal"


class NotionSingle(Strict):
    database_id: NotionId | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    priority: Literal["normal", "high"] = "normal"


class TaskQueued(BaseModel):
    success: bool = True
    task_id: int
    job_id: str | None
    total_items: int
    status: str
    message: str
    stages: list[str]
    links: list[LinkRead] | None = None


class ItemRead(BaseModel):
    id: int
    item_id: int
    item_type: str
    stage: str
    status: str
    attempts: int
    job_id: str | None
    error_code: str | None
    error_message: str | None
    position: int | None = Field(
        description="place in its queue while queued (0 = next)"
    )
    started_at: datetime | None
    completed_at: datetime | None
    url: str | None = Field(description="the link the item is about")
    link_id: int | None
    parsed_content_id: int | None
    ai_content_id: int | None
    notion_import_id: int | None
    notion_page_url: str | None
    notion_state: str | None = Field(
        description="created, dry_run, … once the Notion stage ran"
    )
    result_data: dict[str, Any]


class TaskRead(BaseModel):
    id: int
    type: str
    status: str
    progress: int
    total_items: int
    completed_items: int
    failed_items: int
    cancelled_items: int
    stages: list[str]
    stage_progress: dict[str, dict[str, int]]
    job_id: str | None
    queue_name: str | None
    worker_id: str | None
    retry_count: int
    max_retries: int
    result_data: dict[str, Any]
    error: str | None
    eta_seconds: float | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    items: list[ItemRead] | None = None


class TaskEnvelope(BaseModel):
    success: bool = True
    task: TaskRead


class TaskCancelled(BaseModel):
    success: bool = True
    task_id: int
    status: str
    cancelled_items: int
    message: str


class TaskRetried(BaseModel):
    success: bool = True
    task_id: int
    status: str
    retried_count: int
    message: str


# --- AI models --------------------------------------------------------------------------------------


class AIModelCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    provider: Literal["offline", "openai"]
    model: str = Field(default="", max_length=200)
    base_url: str | None = Field(
        default=None,
        max_length=2000,
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
