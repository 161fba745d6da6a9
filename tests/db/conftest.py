"""The database of the `db` tests, of each dialect: every test taking `database` runs on SQLite (the
embedded mode) and on PostgreSQL (production), so the statements `db.connect` chooses for each
(`db.dialects`) are both exercised. PostgreSQL is a database of our own on the real server, emptied and
migrated for each test; without the server those runs skip, and fail under CI=true (`tests.servers`).

A test meaningful on one dialect only says so with `tests.db.dialects.sqlite_only` or `postgresql_only`.
"""

from __future__ import annotations

import peewee
import pytest

import db
from db import migrate
from tests import servers

UNIT_DATABASE = f"{servers.TEST_DATABASE}_unit"  # not the integration tests' database: they may run alongside


def emptied(database: peewee.Database) -> None:
    """Drop every table, whichever migrations made it."""
    with database.connection_context():
        tables = [row[0] for row in database.execute_sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        if tables:
            database.execute_sql("DROP TABLE IF EXISTS " + ", ".join(f'"{table}"' for table in tables) + " CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, config):
    """A fresh migrated database of the parameter's dialect, bound to the proxy."""
    if request.param == "sqlite":
        bound = db.connect(config.database)
        migrate.apply()
        yield bound
        bound.close()
        return
    bound = db.connect(servers.postgres_url(UNIT_DATABASE), max_connections=8)
    emptied(bound)
    migrate.apply()
    yield bound
    bound.close_all()


@pytest.fixture
def statements_run(database, monkeypatch) -> list[str]:
    """The SQL texts the bound database executes from now on, in order."""
    run: list[str] = []
    execute = database.execute_sql
    monkeypatch.setattr(
        database, "execute_sql", lambda sql, *args, **kwargs: run.append(sql) or execute(sql, *args, **kwargs)
    )
    return run
