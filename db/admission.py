"""The queries admission needs beside the job's own: a key's backlog, and requests of one owner and
Idempotency-Key taking turns (`key_turn`)."""

from __future__ import annotations

import contextlib
import threading
import zlib
from collections.abc import Iterator

from db.connection import database, statements
from db.dialects import PostgresStatements
from db.jobs import Job
from db.lifecycle import Status

_STRIPES = [threading.Lock() for _ in range(64)]  # SQLite: one process, so a process lock is enough


def queued_of(owner: str) -> int:
    """The owner's queued jobs (the per-key backlog)."""
    return Job.select().where((Job.owner == owner) & (Job.status == Status.QUEUED)).count()


@contextlib.contextmanager
def key_turn(owner: str, key: str) -> Iterator[None]:
    """Requests of one owner with one Idempotency-Key, one at a time, across processes: a PostgreSQL
    advisory lock on the pair, held on this thread's connection for the block (a session lock, not a
    transaction's: the job's row is committed inside the block, before its message is sent, and the next
    request must see both). SQLite (one process): a lock of this process."""
    name = f"{owner}:{key}"  # an owner id is hex (or empty): the colon tells the two apart
    if not _is_postgres():
        with _STRIPES[zlib.crc32(name.encode()) % len(_STRIPES)]:
            yield
        return
    database.execute_sql("SELECT pg_advisory_lock(hashtext(%s))", (name,))
    try:
        yield
    finally:
        try:
            database.execute_sql("SELECT pg_advisory_unlock(hashtext(%s))", (name,))
        except Exception:  # a session that cannot unlock must not go back to the pool holding the lock
            with contextlib.suppress(Exception):
                database.manual_close()


def _is_postgres() -> bool:
    """Whether `db.connect` chose PostgreSQL's statements for the bound database (its strategy, picked once
    when the database was bound, says so; nothing here asks the database itself)."""
    return isinstance(statements.obj, PostgresStatements)
