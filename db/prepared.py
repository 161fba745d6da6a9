"""Statements PostgreSQL plans once per connection instead of on every run.

A statement sent as text is parsed and planned each time it runs. A batch's save, with its `VALUES` list, its
guards and the CTE that notifies, takes PostgreSQL longer to plan than to run when the batch is one job: the
job at idle, whose answer someone waits for. `execute` prepares such a text once on the connection that runs
it (`PREPARE`, named from the text) and runs it with `EXECUTE` from then on. The parameters stay psycopg2's
`%s`, each becoming `$n` with its type inferred by PostgreSQL; the texts that run here fix their columns' types
with casts.

A prepared statement outlives a rolled-back transaction but not its session: a connection that lost its
statements (a server restarted behind the same connection object, a pooler that reset it) has the statement
prepared again, once, and run.
"""

from __future__ import annotations

import functools
import hashlib
import re
import weakref
from typing import Any

import peewee

INVALID_NAME, DUPLICATE = "26000", "42P05"  # PostgreSQL's codes: no such prepared statement; already prepared

_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()  # connection -> its names


def execute(db: peewee.Database, sql: str, params: tuple | list):
    """Run `sql` (psycopg2's `%s` placeholders, no literal `%`) with `params` on `db`'s connection, prepared
    once per connection; the cursor, as `db.execute_sql` returns it."""
    name, prepared_sql = _prepared_form(sql)
    run = f"EXECUTE {name} ({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}"
    names = _prepared.setdefault(db.connection(), set())
    if name not in names:
        _prepare(db, name, prepared_sql)
        names.add(name)
    try:
        return db.execute_sql(run, params)
    except peewee.DatabaseError as e:
        if _code(e) != INVALID_NAME:
            raise
    _prepare(db, name, prepared_sql)  # the session lost it: prepared again, and run once more
    return db.execute_sql(run, params)


def _prepare(db: peewee.Database, name: str, prepared_sql: str) -> None:
    try:
        db.execute_sql(f"PREPARE {name} AS {prepared_sql}")
    except peewee.DatabaseError as e:
        if _code(e) != DUPLICATE:  # prepared already (by a caller that did not record it): as good
            raise


@functools.lru_cache(maxsize=256)
def _prepared_form(sql: str) -> tuple[str, str]:
    """The statement's name (from its text: the same text, the same name) and its text with `$1`, `$2`...
    in place of psycopg2's placeholders."""
    if "%%" in sql:
        raise ValueError("a statement to prepare takes no literal %")
    numbers = iter(range(1, sql.count("%s") + 1))
    name = "inference_" + hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()
    return name, re.sub(r"%s", lambda _: f"${next(numbers)}", sql)


def _code(error: peewee.DatabaseError) -> str | None:
    """The PostgreSQL error code of the psycopg2 error that peewee's error wraps (raised while handling it)."""
    return getattr(error.__cause__ or error.__context__, "pgcode", None)
