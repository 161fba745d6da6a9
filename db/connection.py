"""The database handle: one `DatabaseProxy`, bound to a real database by `connect(url)`, and beside it the
statements of that database's dialect (`db.dialects`), chosen in the same call."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlparse

import peewee
from playhouse.db_url import connect as connect_url
from playhouse.pool import PooledPostgresqlDatabase
from psycopg2.extensions import parse_dsn

from db.dialects import DIALECTS

database = peewee.DatabaseProxy()
statements = peewee.Proxy()  # a `db.dialects` strategy for the bound database, chosen by `connect`

# libpq's bounds on a silent or unreachable server, where the URL sets none (`Config.database_bounds` sets
# them from the configuration): a dead peer is found by keepalives after about 10 + 3 x 5 s idle, by
# `tcp_user_timeout` 20 s after data sent goes unacknowledged, and a connect gives up after 5 s per host.
NETWORK_BOUNDS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 20_000,
}

DURABLE = "-c synchronous_commit=on"
# Every statement here is short and reads by index: compiling it (tens of ms once the planner's estimate passes
# `jit_above_cost`, as a batch's counts do) costs more than it could save.
NO_JIT = "-c jit=off"

SQLITE_PRAGMAS = {
    "journal_mode": "wal",  # readers never block the writer
    "busy_timeout": 10_000,  # ms: wait for the write lock instead of failing
    "synchronous": "normal",
    "foreign_keys": 1,
}


class Pool(PooledPostgresqlDatabase):
    """peewee's PostgreSQL pool, without a round trip on every checkout.

    peewee checks each connection it hands out with a `SELECT 1`, under the lock every thread takes to
    connect: with many request threads that one round trip serialized the whole API. Here a connection
    returned to the pool less than `fresh` seconds ago, idle and open, is handed out unchecked; one that
    sat longer is checked as before, so after a database restart (an outage lasts longer than that) the
    dead connections are still found and dropped."""

    fresh = 1.0  # seconds

    def __init__(self, *args, **kwargs):
        self._returned: dict[int, float] = {}  # conn_key -> when it came back to the pool
        super().__init__(*args, **kwargs)

    def _close(self, conn, close_conn=False):
        self._returned[self.conn_key(conn)] = time.monotonic()
        super()._close(conn, close_conn)

    def _close_raw(self, conn):
        self._returned.pop(self.conn_key(conn), None)
        super()._close_raw(conn)

    def _is_closed(self, conn):
        if conn.closed:
            return True
        returned = self._returned.get(self.conn_key(conn))
        if returned is not None and time.monotonic() - returned < self.fresh and not conn.get_transaction_status():
            return False  # TRANSACTION_STATUS_IDLE: back from a request that committed or rolled back
        return super()._is_closed(conn)


def connect(url: str, *, max_connections: int = 20, statement_timeout_ms: int = 0) -> peewee.Database:
    """Bind the proxy to the database at `url` and return it.

    PostgreSQL is pooled (connections are returned to the pool by `close()`), and with
    `statement_timeout_ms` every statement is bounded (the server cancels it: a 503 or a retried message,
    never a thread held for good); SQLite runs in WAL mode with a busy timeout so the API and in-process
    worker threads can share the file. The statements that differ by database are chosen here, once
    (`statements`).
    """
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        path = url.split("sqlite:///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = connect_url(url, pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    elif scheme in ("postgres", "postgresql"):
        db = Pool(
            max_connections=max_connections,
            stale_timeout=300,
            timeout=10,  # seconds to wait for a free pooled connection
            **postgres_parameters(url, statement_timeout_ms),
        )
    else:
        raise ValueError(f"unsupported database URL scheme {scheme!r}")
    database.initialize(db)
    statements.initialize(DIALECTS[scheme](db))
    return db


def postgres_parameters(url: str, statement_timeout_ms: int = 0) -> dict:
    """psycopg2's connection parameters for a libpq URL, read by libpq's own parser: several hosts
    (`postgresql://u@a:5432,b:5433/db?target_session_attrs=read-write`) stay as written, where peewee's URL
    parser takes `5432,b:5433` for a port. The network bounds the URL does not set are added, and the
    session's commits are durable (`DURABLE`)."""
    parameters = {**NETWORK_BOUNDS, **parse_dsn(url)}
    parameters["database"] = parameters.pop("dbname", None) or parameters.get("user") or "postgres"
    # every commit waits for the disk (and a synchronous standby), whatever the server's default: a row a
    # 202 or an ack stands on must survive a crash or a failover; the statements that opt out, each for its own
    # transaction, are listed in docs/reliability.md#durable-saves
    options = [DURABLE, NO_JIT] + ([f"-c statement_timeout={statement_timeout_ms}"] if statement_timeout_ms else [])
    parameters["options"] = " ".join(filter(None, [parameters.get("options"), *options]))
    return parameters


def ping() -> None:
    """Raise `peewee.OperationalError` (or a driver error) unless the database answers."""
    with database.connection_context():
        database.execute_sql("SELECT 1")
