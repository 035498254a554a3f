"""`gleaner keys create`: straight to the database, as `python -m gleaner_api keys create` does.

No endpoint creates keys: the first key cannot come from an API that asks for one, and whoever can
reach the database already holds every key's owner. Only the database settings are read.
"""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from gleaner.apikeys import create_api_key
from gleaner.db import make_engine, make_sessionmaker, session_scope
from gleaner.settings import load_settings
from gleaner_api.cli.config import ConfigError


def create_key_in_database(
    name: str, owner: str | None, *, operator: bool = False
) -> str:
    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            _, key = create_api_key(
                session, name, owner or settings.BOOTSTRAP_OWNER, operator=operator
            )
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise ConfigError(
            f"cannot write the key to the database ({settings.database_url.split('@')[-1]}): {reason}"
        ) from exc
    finally:
        engine.dispose()
    return key
