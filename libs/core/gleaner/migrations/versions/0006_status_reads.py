"""Indexes for the hot status reads: a task's item page, its per-stage counts, a tenant's task list
and the recent attempt times the ETA is made of

Revision ID: 0006_status_reads
Revises: 0005_feeds
"""

from __future__ import annotations

from alembic import op

revision = "0006_status_reads"
down_revision = "0005_feeds"
branch_labels = None
depends_on = None

INDEXES = (
    # a task's items by id: the cursor of GET /api/tasks/{id} (items_after)
    ("ix_task_items_task_id_id", "task_items", ["task_id", "id"]),
    # per-stage counts of a task, read from the index alone
    ("ix_task_items_task_stage_status", "task_items", ["task_id", "stage", "status"]),
    # items changed since an SSE event
    ("ix_task_items_task_updated", "task_items", ["task_id", "updated_at"]),
    # a tenant's newest tasks first (GET /api/tasks)
    ("ix_processing_tasks_owner_id", "processing_tasks", ["owner", "id"]),
    # the last completed attempts of a stage (the ETA), without sorting every attempt
    ("ix_item_attempts_stage_outcome_id", "item_attempts", ["stage", "outcome", "id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
