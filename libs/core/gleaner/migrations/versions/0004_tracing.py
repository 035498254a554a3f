"""task_items.traceparent: the W3C trace context of an item's trace, kept where re-issues read it

Revision ID: 0004_tracing
Revises: 0003_schedules
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_tracing"
down_revision = "0003_schedules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_items") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(length=55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task_items") as batch:
        batch.drop_column("traceparent")
