"""tenancy: AI models belong to an owner, operator keys, 64-bit ids

- ai_models.owner (NULL = an operator's model, usable by every tenant), unique per (owner, name),
  ai_models.api_key_encrypted (a tenant model's own key, Fernet-encrypted);
- api_keys.is_operator (may read every tenant's queue and worker figures);
- on PostgreSQL every id and every column pointing at one becomes BIGINT, with its sequence: ids past
  2^31 were an error there (SQLite's INTEGER primary key is a 64-bit rowid already).

Revision ID: 0002_tenancy
Revises: 0004_tracing
Create Date: 2026-11-29 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_tenancy"
down_revision = "0004_tracing"
branch_labels = None
depends_on = None

# Every table's id (with a sequence) and the foreign keys that point at ids.
ID_COLUMNS = {
    "ai_models": ["id"],
    "api_keys": ["id"],
    "links": ["id"],
    "processing_tasks": ["id"],
    "parsed_contents": ["id", "link_id"],
    "ai_processed_contents": ["id", "parsed_content_id", "model_id"],
    "notion_imports": ["id", "ai_content_id"],
    "task_items": [
        "id",
        "task_id",
        "link_id",
        "parsed_content_id",
        "ai_content_id",
        "notion_import_id",
    ],
    "item_attempts": ["id", "item_id"],
    "task_dependencies": ["task_id", "parent_id"],
    "schedules": ["id", "last_task_id"],
    "schedule_firings": ["id", "schedule_id", "task_id"],
    "webhook_endpoints": ["id", "task_id"],
    "webhook_deliveries": ["id", "endpoint_id"],
}


def _id_types(new: sa.types.TypeEngine[int], old: sa.types.TypeEngine[int]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in ID_COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=new, existing_type=old)
        if "id" not in columns:
            continue  # no sequence
        op.execute(
            f"ALTER SEQUENCE {table}_id_seq AS {new.compile(op.get_bind().dialect)}"
        )


def upgrade() -> None:
    with op.batch_alter_table("ai_models") as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("api_key_encrypted", sa.Text(), nullable=True))
        batch_op.drop_constraint("uq_ai_models_name", type_="unique")
        batch_op.create_unique_constraint("uq_ai_models_owner_name", ["owner", "name"])
        batch_op.create_index("ix_ai_models_owner", ["owner"], unique=False)
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(
            sa.Column(
                "is_operator", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    _id_types(sa.BigInteger(), sa.Integer())


def downgrade() -> None:
    _id_types(sa.Integer(), sa.BigInteger())
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_column("is_operator")
    with op.batch_alter_table("ai_models") as batch_op:
        batch_op.drop_index("ix_ai_models_owner")
        batch_op.drop_constraint("uq_ai_models_owner_name", type_="unique")
        batch_op.create_unique_constraint("uq_ai_models_name", ["name"])
        batch_op.drop_column("api_key_encrypted")
        batch_op.drop_column("owner")
