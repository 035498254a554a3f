"""Feed schedules: a schedule's feed URL, the entries it has filed (once each), a firing's entry count

Revision ID: 0005_feeds
Revises: 0002_tenancy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_feeds"
down_revision = "0002_tenancy"
branch_labels = None
depends_on = None

# 64-bit on PostgreSQL; on SQLite an INTEGER primary key is the 64-bit rowid (gleaner.models.BigId)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("schedules") as batch_op:
        batch_op.add_column(sa.Column("feed_url", sa.Text(), nullable=True))
    with op.batch_alter_table("schedule_firings") as batch_op:
        batch_op.add_column(sa.Column("new_entries", sa.Integer(), nullable=True))
        batch_op.create_index("ix_schedule_firings_outcome", ["outcome"])
    op.create_table(
        "feed_entries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("schedule_id", BIG_ID, nullable=False),
        sa.Column("entry_key", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("firing_id", BIG_ID, nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_feed_entries_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["firing_id"],
            ["schedule_firings.id"],
            name=op.f("fk_feed_entries_firing_id_schedule_firings"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_entries")),
        sa.UniqueConstraint(
            "schedule_id", "entry_key", name=op.f("uq_feed_entries_key")
        ),
    )
    op.create_index(op.f("ix_feed_entries_firing_id"), "feed_entries", ["firing_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_feed_entries_firing_id"), table_name="feed_entries")
    op.drop_table("feed_entries")
    with op.batch_alter_table("schedule_firings") as batch_op:
        batch_op.drop_index("ix_schedule_firings_outcome")
        batch_op.drop_column("new_entries")
    with op.batch_alter_table("schedules") as batch_op:
        batch_op.drop_column("feed_url")
