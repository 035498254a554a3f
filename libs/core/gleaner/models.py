"""What Gleaner keeps in SQL: links and every stage's results, tasks and their items, API keys.

SQL is the truth for everything a user cares about; Redis holds only what is in flight. Tables are
created by Alembic migrations only (gleaner/migrations), never by `create_all`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self,
        value: datetime | None,
        dialect: Any,  # noqa: ARG002 - the signature SQLAlchemy calls
    ) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Any,  # noqa: ARG002 - the signature SQLAlchemy calls
    ) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


BigId = BigInteger().with_variant(Integer, "sqlite")
"""Ids and the columns that point at them: 64-bit on PostgreSQL; on SQLite an INTEGER primary key is
already a 64-bit rowid (and BIGINT would stop it from autoincrementing)."""


class Base(DeclarativeBase):
    # Deterministic constraint names, so migrations are the same on every backend.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


# --- enums ------------------------------------------------------------------------------------------


class TaskType(StrEnum):
    PARSING = "parsing"
    AI = "ai"
    NOTION = "notion"
    PIPELINE = "pipeline"


class TaskStatus(StrEnum):
    WAITING = "waiting"  # for the tasks it named in `after` (gleaner.dependencies)
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    PARTIALLY_FAILED = "partially_failed"
    CANCELLED = "cancelled"


class ItemStatus(StrEnum):
    PENDING = "pending"  # created, not yet handed to a queue
    QUEUED = "queued"  # a job for it is in Redis (waiting, or scheduled for a retry)
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_ITEM_STATUSES = (ItemStatus.COMPLETED, ItemStatus.FAILED, ItemStatus.CANCELLED)


class ItemType(StrEnum):
    LINK = "link"
    PARSED_CONTENT = "parsed_content"
    AI_CONTENT = "ai_content"


class NotionImportState(StrEnum):
    PENDING = "pending"  # intent recorded, no create sent yet
    CREATING = "creating"  # a create was sent (or may have been): look the page up before sending again
    CREATED = "created"  # page exists and its blocks are all appended
    DRY_RUN = "dry_run"  # no token: the requests are stored in `requests`
    FAILED = "failed"


# --- content ----------------------------------------------------------------------------------------


class Link(Base):
    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint(
            "owner", "normalized_url", name="uq_links_owner_normalized_url"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(Text)
    normalized_url: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parsed: Mapped[ParsedContent | None] = relationship(
        back_populates="link", uselist=False
    )


class ParsedContent(Base):
    """The article extracted from a link; one per link, replaced when the link is parsed again."""

    __tablename__ = "parsed_contents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    link_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("links.id", ondelete="CASCADE"), unique=True
    )
    final_url: Mapped[str] = mapped_column(Text)  # after redirects
    canonical_url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published_date: Mapped[date | None] = mapped_column(Date)
    site_name: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str] = mapped_column(
        String(64), index=True
    )  # sha256 of the text
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    link: Mapped[Link] = relationship(back_populates="parsed")


class AIModel(Base):
    """A configured AI provider and model; the default one serves requests that name none.

    `owner` None is an operator's model (seeded, or `python -m gleaner_api models create`): every
    tenant may use it, and only it may be sent the server's GLEANER_OPENAI_API_KEY. A tenant's model is
    seen and used by that tenant alone, carries its own key (Fernet-encrypted, never returned) and is
    the tenant's default at most: defaults are per owner, an operator default serves the rest.
    """

    __tablename__ = "ai_models"
    __table_args__ = (
        UniqueConstraint("owner", "name", name="uq_ai_models_owner_name"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(32))  # "offline" | "openai"
    model: Mapped[str] = mapped_column(
        String(200), default=""
    )  # the provider's model name
    base_url: Mapped[str | None] = mapped_column(
        Text
    )  # openai-compatible endpoint; None = settings
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_default: Mapped[bool] = mapped_column(default=False)
    api_key_encrypted: Mapped[str | None] = mapped_column(Text)  # gleaner.secrets
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def has_api_key(self) -> bool:
        return self.api_key_encrypted is not None


class AIProcessedContent(Base):
    """Summary, keywords and insights for one parsed article by one model."""

    __tablename__ = "ai_processed_contents"
    __table_args__ = (
        UniqueConstraint(
            "parsed_content_id",
            "model_id",
            name="uq_ai_processed_contents_parsed_model",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    parsed_content_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("parsed_contents.id", ondelete="CASCADE")
    )
    model_id: Mapped[int] = mapped_column(BigId, ForeignKey("ai_models.id"))
    summary: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    insights: Mapped[list[Any]] = mapped_column(default=list)
    processing_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    usage: Mapped[dict[str, Any]] = mapped_column(
        default=dict
    )  # provider token usage, call count
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    parsed_content: Mapped[ParsedContent] = relationship()
    model: Mapped[AIModel] = relationship()


class NotionImport(Base):
    """One page filed (or to be filed) in a Notion database. The row is the intent, written first."""

    __tablename__ = "notion_imports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ai_content_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("ai_processed_contents.id", ondelete="CASCADE")
    )
    database_id: Mapped[str] = mapped_column(String(64))
    # sha256(database id, source URL): the same article filed twice in one database is one page.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    source_url: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=NotionImportState.PENDING)
    page_id: Mapped[str | None] = mapped_column(String(64))
    page_url: Mapped[str | None] = mapped_column(Text)
    properties: Mapped[dict[str, Any]] = mapped_column(
        default=dict
    )  # user-supplied, merged in
    requests: Mapped[list[Any]] = mapped_column(
        default=list
    )  # dry run: what would be sent
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    ai_content: Mapped[AIProcessedContent] = relationship()


# --- tasks ------------------------------------------------------------------------------------------


class ProcessingTask(Base):
    """A batch of items run through one stage or the whole pipeline.

    Counts change only through atomic `UPDATE … SET n = n + 1` guarded by an item's own status change
    (gleaner.tasks), so concurrent workers never lose one. Status is derived from the counts.
    """

    __tablename__ = "processing_tasks"
    __table_args__ = (
        Index("ix_processing_tasks_owner_status", "owner", "status"),
        Index("ix_processing_tasks_owner_id", "owner", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.QUEUED)
    stages: Mapped[list[Any]] = mapped_column(
        default=list
    )  # the stages each item goes through, in order
    config: Mapped[dict[str, Any]] = mapped_column(
        default=dict
    )  # processing_config, model_id, notion
    total_items: Mapped[int] = mapped_column(Integer, default=0)
    completed_items: Mapped[int] = mapped_column(Integer, default=0)
    failed_items: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_items: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[str | None] = mapped_column(
        String(100)
    )  # the job of a single-item task
    queue_name: Mapped[str | None] = mapped_column(
        String(32)
    )  # the first stage's queue
    worker_id: Mapped[str | None] = mapped_column(
        String(200)
    )  # the worker that last touched it
    retry_count: Mapped[int] = mapped_column(
        Integer, default=0
    )  # manual retries of failed items
    max_retries: Mapped[int] = mapped_column(
        Integer, default=3
    )  # attempts per item and stage
    result_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    items: Mapped[list[TaskItem]] = relationship(
        back_populates="task", order_by="TaskItem.id"
    )

    @property
    def finished_items(self) -> int:
        return self.completed_items + self.failed_items + self.cancelled_items

    @property
    def progress(self) -> int:
        """Percent of items that reached an end (completed, failed or cancelled)."""
        if not self.total_items:
            return 100
        return int(100 * self.finished_items / self.total_items)


class TaskItem(Base):
    """One input of a task on its way through the task's stages.

    `item_id`/`item_type` name what the user gave; the *_id columns fill in as stages produce results.
    `attempts` counts attempts at the current stage and resets when the item moves on.
    """

    __tablename__ = "task_items"
    __table_args__ = (
        Index("ix_task_items_task_status", "task_id", "status"),
        Index("ix_task_items_status_stage", "status", "stage"),
        Index("ix_task_items_task_id_id", "task_id", "id"),
        Index("ix_task_items_task_stage_status", "task_id", "stage", "status"),
        Index("ix_task_items_task_updated", "task_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("processing_tasks.id", ondelete="CASCADE")
    )
    item_id: Mapped[int] = mapped_column(BigInteger)
    item_type: Mapped[str] = mapped_column(String(20))
    stage: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=ItemStatus.PENDING)
    job_id: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    result_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    worker_name: Mapped[str | None] = mapped_column(
        String(200)
    )  # who runs it now (heartbeat key)
    link_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("links.id", ondelete="SET NULL")
    )
    parsed_content_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("parsed_contents.id", ondelete="SET NULL")
    )
    ai_content_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("ai_processed_contents.id", ondelete="SET NULL")
    )
    notion_import_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("notion_imports.id", ondelete="SET NULL")
    )
    # when it was queued, or for a delayed retry when it is due (in the future while it waits)
    queued_at: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # W3C traceparent of the item's root span (gleaner.tracing); null when tracing was off at submit
    traceparent: Mapped[str | None] = mapped_column(String(55))

    task: Mapped[ProcessingTask] = relationship(back_populates="items")


class TaskDependency(Base):
    """`task_id` waits for `parent_id` to end (gleaner.dependencies); the row goes when either does."""

    __tablename__ = "task_dependencies"

    task_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("processing_tasks.id", ondelete="CASCADE"), primary_key=True
    )
    parent_id: Mapped[int] = mapped_column(
        BigId,
        ForeignKey("processing_tasks.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    )


class ItemAttempt(Base):
    """Every attempt at every stage of an item: the history behind `attempts`, and the ETA's data."""

    __tablename__ = "item_attempts"
    __table_args__ = (
        Index("ix_item_attempts_stage_finished", "stage", "finished_at"),
        Index("ix_item_attempts_stage_outcome_id", "stage", "outcome", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("task_items.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(16))
    number: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[str | None] = mapped_column(String(100))
    worker_name: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(
        String(16)
    )  # completed|retry|failed|cancelled|requeued|lost
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


# --- schedules --------------------------------------------------------------------------------------


class Schedule(Base):
    """A pipeline run on a cron expression (in a time zone) or every N seconds (gleaner.schedules).

    `next_fire_at` is the claim: a scheduler fires a due schedule only by moving it on with
    `UPDATE … WHERE id = … AND next_fire_at = <the value it read>`, in the transaction that creates
    the task, so two replicas never fire the same tick and a crash mid-tick fires nothing.
    """

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(100))
    cron: Mapped[str | None] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    pipeline: Mapped[dict[str, Any]] = mapped_column(
        default=dict
    )  # the POST /api/pipelines body (without urls/link_ids for a feed)
    # An RSS/Atom feed whose new entries each firing runs (gleaner_parsing.feeds); None: the pipeline's links
    feed_url: Mapped[str | None] = mapped_column(Text)
    paused: Mapped[bool] = mapped_column(default=False)
    next_fire_at: Mapped[datetime | None] = mapped_column(
        index=True
    )  # None while paused
    last_fired_at: Mapped[datetime | None] = mapped_column()
    # created | failed | no_new_entries | fetching (a feed firing under way)
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_task_id: Mapped[int | None] = mapped_column(BigId)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ScheduleFiring(Base):
    """One firing of a schedule: the tick it was for, the task it made or why it made none."""

    __tablename__ = "schedule_firings"
    __table_args__ = (
        UniqueConstraint("schedule_id", "tick_at", name="uq_schedule_firings_tick"),
        # the scheduler looks every second for feed firings still under way
        Index("ix_schedule_firings_outcome", "outcome"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("schedules.id", ondelete="CASCADE"), index=True
    )
    tick_at: Mapped[datetime] = (
        mapped_column()
    )  # the due time it fired for (now, for run-now)
    manual: Mapped[bool] = mapped_column(default=False)  # run now
    task_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("processing_tasks.id", ondelete="SET NULL")
    )
    # created | failed | no_new_entries; a feed firing is `fetching` (its job runs), then `fetched`
    # (its new entries are recorded) until the scheduler makes the task
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)
    new_entries: Mapped[int | None] = mapped_column(
        Integer
    )  # a feed firing's new entries


class FeedEntry(Base):
    """An entry of a schedule's feed, filed once: unique per schedule and entry key (gleaner.feeds).

    The key is the entry's id (RSS guid, Atom id), or its link when it has none; the constraint, not a
    read-then-write, is what keeps two firings racing (replicas, run-now) from both filing it.
    """

    __tablename__ = "feed_entries"
    __table_args__ = (
        UniqueConstraint("schedule_id", "entry_key", name="uq_feed_entries_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("schedules.id", ondelete="CASCADE")
    )
    entry_key: Mapped[str] = mapped_column(String(64))  # sha256 hex of the id or link
    entry_id: Mapped[str] = mapped_column(Text)  # the id or link itself, for people
    link: Mapped[str] = mapped_column(Text)
    firing_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("schedule_firings.id", ondelete="SET NULL"), index=True
    )
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- webhooks ---------------------------------------------------------------------------------------


class WebhookEndpoint(Base):
    """Where an owner's task (and, with per_item, item) ends are POSTed, signed (gleaner.webhooks)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(Text)
    # The signing key, shown once at creation; kept because signing needs it (as Standard Webhooks does).
    secret: Mapped[str] = mapped_column(String(100))
    task_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("processing_tasks.id", ondelete="CASCADE")
    )  # only this task's events; None: every task of the owner
    per_item: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column()  # the receiver answered 410
    disabled_reason: Mapped[str | None] = mapped_column(Text)


class WebhookDelivery(Base):
    """One event for one endpoint, with every attempt in `log`; unique per endpoint and event."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint(
            "endpoint_id", "event_key", name="uq_webhook_deliveries_event"
        ),
        Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_key: Mapped[str] = mapped_column(
        String(100)
    )  # task:<id>:<retry> | item:<id>:<ended ms>
    event: Mapped[str] = mapped_column(String(32))  # task.ended | item.ended
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # pending|delivered|failed|disabled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    log: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()


# --- auth -------------------------------------------------------------------------------------------


class ApiKey(Base):
    """A bearer key; only its sha256 is stored. `owner` scopes every object the key creates or sees."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str] = mapped_column(String(100), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(
        String(16)
    )  # the first characters, to tell keys apart
    # Operators see every tenant's queue and worker figures (/api/monitoring/{queues,workers}).
    is_operator: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
