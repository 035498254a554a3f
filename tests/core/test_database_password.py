"""A database password with URL-special characters: the chart passes it alone (GLEANER_DATABASE_PASSWORD,
from a Secret) beside a URL without one, and Settings quotes it into the URL."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gleaner.db import migrate
from gleaner.settings import Settings

PASSWORDS = ["p@ss:w/rd?x#y%z", "%40%3A", "a b+c&d=e", "@", "::", "ünï/cødé", "x" * 64]


@pytest.mark.parametrize("password", PASSWORDS)
def test_the_parsed_url_carries_the_password_unchanged(password: str) -> None:
    settings = Settings(
        DATABASE_URL="postgresql://gleaner@db.example:5433/gleaner",
        DATABASE_PASSWORD=password,  # type: ignore[arg-type]
    )
    url = make_url(settings.database_url)
    assert url.password == password
    assert (url.username, url.host, url.port, url.database) == (
        "gleaner",
        "db.example",
        5433,
        "gleaner",
    )
    assert url.drivername == "postgresql+psycopg"


def test_the_password_variable_replaces_one_in_the_url() -> None:
    settings = Settings(
        DATABASE_URL="postgresql://u:old@h/d",
        DATABASE_PASSWORD="n@w",  # type: ignore[arg-type]
    )
    assert make_url(settings.database_url).password == "n@w"
    assert (
        make_url(Settings(DATABASE_URL="postgresql://u:old@h/d").database_url).password
        == "old"
    )


@pytest.fixture
def special_role(postgres_server_url: str) -> Iterator[tuple[str, str, str]]:
    """A login role whose password holds every URL-special character, owning a fresh database."""
    role = f"gleaner_pw_{uuid.uuid4().hex[:8]}"
    password = "p@ss:w/rd?x#y%z"
    admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        quoted = password.replace("'", "''")
        conn.execute(text(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{quoted}'"))
        conn.execute(text(f'CREATE DATABASE "{role}" OWNER "{role}"'))
    url = make_url(postgres_server_url).set(username=role, password=None, database=role)
    yield role, password, url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{role}" WITH (FORCE)'))
        conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()


@pytest.mark.postgres
def test_a_real_postgresql_role_with_a_special_password(
    special_role: tuple[str, str, str],
) -> None:
    # The server here trusts local connections, so it does not check the password; what this proves is
    # that user, host and database survive the password in the URL, and that Alembic ('%' in its config)
    # and a separate process reading the two variables as the chart sets them both reach the role's
    # database.
    role, password, url_without_password = special_role
    settings = Settings(
        DATABASE_URL=url_without_password,
        DATABASE_PASSWORD=password,  # type: ignore[arg-type]
    )
    assert make_url(settings.database_url).password == password
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT current_user, current_database()")).one() == (
            role,
            role,
        )
    engine.dispose()
    migrate(settings.database_url)
    env = {
        **os.environ,
        "GLEANER_DATABASE_URL": url_without_password,
        "GLEANER_DATABASE_PASSWORD": password,
    }
    waited = subprocess.run(
        [sys.executable, "-m", "gleaner.schema_wait", "--timeout", "10"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert waited.returncode == 0, waited.stderr
