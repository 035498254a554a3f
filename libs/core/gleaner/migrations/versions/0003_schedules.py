"""Task dependencies (and the tables of schedules and webhooks as they land)

Revision ID: 0003_schedules
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_schedules"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_dependencies",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["processing_tasks.id"],
            name=op.f("fk_task_dependencies_parent_id_processing_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["processing_tasks.id"],
            name=op.f("fk_task_dependencies_task_id_processing_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "task_id", "parent_id", name=op.f("pk_task_dependencies")
        ),
    )
    op.create_index(
        op.f("ix_task_dependencies_parent_id"), "task_dependencies", ["parent_id"]
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_task_dependencies_parent_id"), table_name="task_dependencies"
    )
    op.drop_table("task_dependencies")
