"""Engines and sessions. Created at process start (API lifespan, worker start-up), never at import."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Engine,
    Result,
    Row,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.orm import QueryableAttribute, Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for SQLite or PostgreSQL with settings that suit many concurrent workers."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        else:  # one connection per thread: pool sizes do not apply
            for key in ("pool_size", "max_overflow", "pool_timeout"):
                kwargs.pop(key, None)
        # Workers of every stage write the same file: wait for the lock instead of failing at once.
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit at the end, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision` with Alembic (the only way tables are created)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)


def insert_ignoring_conflicts(
    session: Session,
    model: type[Any],
    rows: list[dict[str, Any]],
    index_elements: list[str],
) -> int:
    """INSERT … ON CONFLICT (index_elements) DO NOTHING, on SQLite and PostgreSQL alike.

    How racing writers meet a unique constraint without an error or a savepoint (pysqlite's default
    transaction handling makes savepoints unreliable on SQLite). Returns how many rows this statement inserted.
    """
    if not rows:
        return 0
    # Imported here: a process loads only its own database's dialect (its engine imports that one).
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        statement: Any = postgresql_insert(model.__table__)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(model.__table__)
    table = model.__table__
    statement = statement.on_conflict_do_nothing(index_elements=index_elements)
    # One statement compiled once and run over every row (SQLAlchemy batches it into multi-row
    # VALUES): `.values(rows)` would compile a statement with a parameter per cell, seconds for 10,000.
    # RETURNING lists only the rows inserted (psycopg's rowcount is -1 for this statement).
    return len(session.execute(statement.returning(table.c.id), rows).all())


def in_values(
    session: Session,
    column: ColumnElement[Any] | QueryableAttribute[Any],
    values: Sequence[Any],
) -> ColumnElement[bool]:
    """`column IN (values)` with the values bound as one parameter: a plain IN of 10,000 values binds
    (and SQLAlchemy processes, and the statement spells out) 10,000 parameters. An array on
    PostgreSQL, a JSON array read by json_each on SQLite; the values must be ints or strings."""
    if session.get_bind().dialect.name == "postgresql":
        # imported here: a process loads only its own database's dialect (gleaner.db's rule)
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    rows = func.json_each(
        bindparam(None, json.dumps(list(values), separators=(",", ":")))
    ).table_valued("value")
    return column.in_(select(rows.c.value))


def insert_columns(
    session: Session,
    table: Table,
    columns: Mapping[str, Sequence[Any]],
    constants: Mapping[str, Any] | None = None,
    *,
    conflict: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> Sequence[Row[Any]]:
    """INSERT one row per position of `columns` (a list of values per column, all of one length) in a
    single statement, each list bound once as one parameter; `constants` are one value for every row.

    For large batches: SQLAlchemy's executemany processes every parameter of every row in Python (a
    quarter of a 10,000-link submit's CPU), this binds a handful. PostgreSQL reads the lists with
    `unnest` (arrays), SQLite with `json_each` (one JSON array of rows). The per-row values must be
    what the driver takes as they are (int, str, None: no type processing); constants go through their
    column's type like any bound value. With `conflict`, rows that hit that unique key are skipped
    (ON CONFLICT DO NOTHING); `returning` names columns to return of the rows inserted, in no order.
    """
    constants = dict(constants or {})
    names = list(columns)
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    if not names or not lengths or lengths == {0}:
        return []
    dialect = session.get_bind().dialect
    params: dict[str, Any] = {}
    binds = [bindparam(f"c_{name}", type_=table.c[name].type) for name in constants]
    params.update({f"c_{name}": value for name, value in constants.items()})
    constant_sql = [f":c_{name}" for name in constants]
    if dialect.name == "postgresql":

        def sql_type(name: str) -> str:
            return str(table.c[name].type.compile(dialect=dialect))

        # typed, not left to inference: a parameter in a SELECT list is read as text otherwise
        constant_sql = [f"CAST(:c_{name} AS {sql_type(name)})" for name in constants]
        arrays = ", ".join(f"CAST(:r_{name} AS {sql_type(name)}[])" for name in names)
        params.update({f"r_{name}": list(columns[name]) for name in names})
        per_row = [f't."{name}"' for name in names]
        aliases = ", ".join(f'"{name}"' for name in names)
        source = f" FROM unnest({arrays}) AS t({aliases})"
    else:
        params["rows"] = json.dumps(
            list(zip(*(columns[name] for name in names), strict=True)),
            separators=(",", ":"),
        )
        per_row = [f"json_extract(value, '$[{i}]')" for i in range(len(names))]
        # WHERE true: SQLite would otherwise read ON CONFLICT as the start of a join's ON clause
        source = " FROM json_each(:rows) WHERE true"
    selected = ", ".join([*per_row, *constant_sql])
    target = ", ".join(f'"{name}"' for name in [*names, *constants])
    sql = f'INSERT INTO "{table.name}" ({target}) SELECT {selected}{source}'
    if conflict:
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    if not returning:
        session.execute(text(sql).bindparams(*binds), params)
        return []
    sql += f" RETURNING {', '.join(returning)}"
    statement = text(sql).bindparams(*binds).columns(*(table.c[n] for n in returning))
    return session.execute(statement, params).all()


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE changed (its result is a CursorResult)."""
    return int(cast(CursorResult[Any], result).rowcount)


def reserve_ids(session: Session, table: str, count: int) -> list[int]:
    """`count` fresh ids for `table`, known before its rows are written (one query, not one per row).

    PostgreSQL takes them from the id's sequence. SQLite has no sequence: an INTEGER primary key takes
    max(id) + 1, and the transaction holds SQLite's one write lock from its first write until it ends,
    so the caller must have written already (no other writer can take the same ids meanwhile).
    """
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                "FROM generate_series(1, :count)"
            ),
            {"table": table, "count": count},
        )
        return sorted(int(row[0]) for row in rows)
    top = session.execute(text(f'SELECT coalesce(max(id), 0) FROM "{table}"')).scalar()
    return list(range(int(top or 0) + 1, int(top or 0) + 1 + count))
