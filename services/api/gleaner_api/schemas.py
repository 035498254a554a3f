"""Request and response bodies. Field names follow the original design (docs/seeds 004)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
)

from gleaner.models import (
    ItemStatus,
    ItemType,
    NotionImportState,
    TaskStatus,
    TaskType,
)
from gleaner.queues import PIPELINE_STAGES, Priority
from gleaner.settings import Stage

T = TypeVar("T")

MAX_ID = 2**63 - 1
"""Ids are 64-bit signed integers in SQL: a larger one is a 422 naming the field, not an overflow."""


def _integral(value: Any) -> Any:
    # JSON has one number type: 5.0 is an integer to JSON Schema, so it is one here too (strict
    # bodies still refuse "5" and true).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integral = BeforeValidator(_integral)
"""After an int's own constraints in `Annotated[...]`, so they are still published as minimum/maximum."""

Id = Annotated[int, Field(ge=1, le=MAX_ID), Integral]

BATCH: dict[str, Any] = {"x-gleaner-batch": True}
"""Marks a list the batch limit applies to: gleaner_api.openapi publishes GLEANER_MAX_BATCH_SIZE as its
maxItems (a longer list: 422 `batch_too_large`)."""

PAGE_URL: dict[str, Any] = {"format": "uri", "x-gleaner-url": True}
"""Marks a page URL: http(s), GLEANER_MAX_URL_LENGTH characters at most (published as maxLength)."""

PageUrl = Annotated[
    str,
    Field(
        json_schema_extra=PAGE_URL,
        description="an http(s) URL of a page (no user:password@)",
        examples=["https://example.org/news/1"],
    ),
]

NOTION_PROPERTIES: dict[str, Any] = {
    "additionalProperties": {"$ref": "#/components/schemas/NotionPropertyValue"},
    "examples": [{"Tags": {"multi_select": [{"name": "Important"}]}}],
}


class Strict(BaseModel):
    """Request bodies reject unknown fields, so a typo is an error rather than silently ignored, and
    take values only of the published type (no 0 for false, no "5" for 5)."""

    model_config = ConfigDict(extra="forbid", strict=True)


PriorityField = Annotated[
    Priority,
    Field(
        description="the lane of the stage queues: high runs first, low last (and never starves)"
    ),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


# --- links ------------------------------------------------------------------------------------------


class LinkCreate(Strict):
    """One URL (`url`) or many (`urls`), not both."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"urls": ["https://example.org/news/1"]}]}
    )

    url: PageUrl | None = Field(default=None, description="one URL")
    urls: list[PageUrl] | None = Field(
        default=None, min_length=1, description="or many URLs", json_schema_extra=BATCH
    )


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
    state: NotionImportState
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
        default_factory=dict,
        description="page properties merged into each page",
        json_schema_extra=NOTION_PROPERTIES,
    )


class TaskOptions(Strict):
    """What every task-creating request may add: its lane and the tasks it waits for."""

    priority: PriorityField = "normal"
    after: list[Id] = Field(
        default=[],
        max_length=100,
        description="ids of your tasks this one waits for; it stays `waiting` until they end, "
        "then starts by itself (unknown or another owner's ids: 422)",
        examples=[[41, 42]],
    )
    condition: Literal["completed", "finished"] = Field(
        default="completed",
        description="`completed`: start when every task in `after` completed, else cancel with "
        "the reason; `finished`: start when they end, whatever the outcome",
    )


STAGE_PREFIXES: list[JsonValue] = [
    list(PIPELINE_STAGES[:n]) for n in range(1, len(PIPELINE_STAGES) + 1)
]
"""The stages a pipeline may run: links enter at parsing and each stage needs the one before it."""


class PipelineCreate(TaskOptions):
    """Links (new URLs and/or saved link ids) through a prefix of parsing → ai → notion."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"urls": ["https://example.org/news/1"], "stages": ["parsing", "ai"]}
            ]
        }
    )

    urls: list[PageUrl] | None = Field(default=None, json_schema_extra=BATCH)
    link_ids: list[Id] | None = Field(default=None, json_schema_extra=BATCH)
    stages: list[Stage] = Field(
        default_factory=lambda: list(PIPELINE_STAGES),
        description="a prefix of the pipeline (links start at parsing)",
        json_schema_extra={"enum": STAGE_PREFIXES},
    )
    processing_config: ProcessingConfig = Field(default_factory=ProcessingConfig)
    model_id: Id | None = None
    notion: NotionTarget = Field(default_factory=NotionTarget)


class ParsingBatch(TaskOptions):
    model_config = ConfigDict(json_schema_extra={"examples": [{"link_ids": [1, 2]}]})

    link_ids: list[Id] = Field(json_schema_extra=BATCH)


class AIBatch(TaskOptions):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"parsed_content_ids": [1, 2]}]}
    )

    parsed_content_ids: list[Id] = Field(json_schema_extra=BATCH)
    model_id: Id | None = None
    processing_config: ProcessingConfig = Field(default_factory=ProcessingConfig)


class AISingle(TaskOptions):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"processing_config": {"generate_insights": False}}]
        }
    )

    model_id: Id | None = None
    processing_config: ProcessingConfig = Field(default_factory=ProcessingConfig)


class NotionBatch(TaskOptions):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"ai_content_ids": [1, 2]}]}
    )

    ai_content_ids: list[Id] = Field(json_schema_extra=BATCH)
    database_id: NotionId | None = None
    properties: dict[str, Any] = Field(
        default_factory=dict, json_schema_extra=NOTION_PROPERTIES
    )


class NotionSingle(TaskOptions):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"properties": {"Tags": {"multi_select": [{"name": "Important"}]}}}
            ]
        }
    )

    database_id: NotionId | None = None
    properties: dict[str, Any] = Field(
        default_factory=dict, json_schema_extra=NOTION_PROPERTIES
    )


class TaskQueued(BaseModel):
    success: bool = True
    task_id: int
    job_id: str | None
    total_items: int
    status: TaskStatus
    message: str
    stages: list[str]
    links: list[LinkRead] | None = None


class ItemRead(BaseModel):
    id: int
    item_id: int
    item_type: ItemType
    stage: Stage
    status: ItemStatus
    attempts: int
    max_attempts: int | None = Field(
        default=None, description="attempts the item's current stage allows"
    )
    retry_at: datetime | None = Field(
        default=None,
        description="while a delayed retry waits: when it is due (error_code/error_message: the last attempt's error)",
    )
    job_id: str | None
    error_code: str | None
    error_message: str | None
    position: int | None = Field(
        description="place in its queue while queued (0 = next)"
    )
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime | None = Field(
        default=None, description="its last change (an event stream sends what changed)"
    )
    url: str | None = Field(description="the link the item is about")
    link_id: int | None
    parsed_content_id: int | None
    ai_content_id: int | None
    notion_import_id: int | None
    notion_page_url: str | None
    notion_state: NotionImportState | None = Field(
        description="created, dry_run, … once the Notion stage ran"
    )
    result_data: dict[str, Any]
    trace_id: str | None = Field(
        default=None,
        description="the item's OpenTelemetry trace (32 hex digits), when tracing recorded it",
    )
    trace_url: str | None = Field(
        default=None,
        description="that trace in the tracing UI, when GLEANER_TRACE_URL is set",
    )


class TaskRead(BaseModel):
    id: int
    type: TaskType
    status: TaskStatus
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
    after: list[int] = Field(
        default=[], description="the tasks it waits (or waited) for"
    )
    condition: Literal["completed", "finished"] | None = Field(
        default=None, description="what `after` waits for"
    )
    items: list[ItemRead] | None = Field(
        default=None,
        description="one page of the items, in id order (include_items=true); null otherwise",
    )
    items_next: int | None = Field(
        default=None,
        description="pass it as items_after for the next page of items; null on the last page",
    )


class TaskEnvelope(BaseModel):
    success: bool = True
    task: TaskRead


class TaskCancelled(BaseModel):
    success: bool = True
    task_id: int
    status: TaskStatus
    cancelled_items: int
    message: str
    cancelled_dependants: list[int] = Field(
        default=[], description="waiting tasks cancelled with it (dependants=cancel)"
    )
    released_dependants: list[int] = Field(
        default=[],
        description="waiting tasks that no longer wait for it (dependants=release)",
    )


class TaskRetried(BaseModel):
    success: bool = True
    task_id: int
    status: TaskStatus
    retried_count: int
    message: str
