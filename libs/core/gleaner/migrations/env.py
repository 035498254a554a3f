"""Alembic environment: the URL comes from the caller (gleaner.db.migrate) or GLEANER_DATABASE_URL."""

from __future__ import annotations

from alembic import context

from gleaner.db import make_engine
from gleaner.models import Base
from gleaner.settings import load_settings

url = context.config.get_main_option("sqlalchemy.url") or load_settings().database_url
engine = make_engine(
    url,
)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=url.startswith(
            "sqlite"
        ),  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
