"""The database handle: one `DatabaseProxy`, bound to a real database by `connect(url)`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import peewee
from playhouse.db_url import connect as connect_url

database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",  # readers never block the writer
    "busy_timeout": 10_000,  # ms: wait for the write lock instead of failing
    "synchronous": "normal",
    "foreign_keys": 1,
}


def connect(url: str, *, max_connections: int = 20, statement_timeout_ms: int = 0) -> peewee.Database:
    """Bind the proxy to the database at `url` and return it.

    PostgreSQL is pooled (connections are returned to the pool by `close()`), and with
    `statement_timeout_ms` every statement is bounded (the server cancels it: a 503 or a retried message,
    never a thread held for good); SQLite runs in WAL mode with a busy timeout so the API and in-process
    worker threads can share the file.
    """
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        path = url.split("sqlite:///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = connect_url(url, pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    elif scheme in ("postgres", "postgresql"):
        db = connect_url(
            url.replace(f"{scheme}://", "postgres+pool://", 1),
            max_connections=max_connections,
            stale_timeout=300,
            timeout=10,  # seconds to wait for a free pooled connection
            connect_timeout=5,
            **({"options": f"-c statement_timeout={statement_timeout_ms}"} if statement_timeout_ms else {}),
        )
    else:
        raise ValueError(f"unsupported database URL scheme {scheme!r}")
    database.initialize(db)
    return db


def ping() -> None:
    """Raise `peewee.OperationalError` (or a driver error) unless the database answers."""
    with database.connection_context():
        database.execute_sql("SELECT 1")
