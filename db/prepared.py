"""Statements PostgreSQL plans once per connection (`PREPARE`, then `EXECUTE`), for the statements every job
runs: its read, a batch's claim and a batch's save.

Planning them anew on every call cost the server 0.3 to 0.9 ms each (a save of 32 jobs: 0.95 ms to plan
against 4 ms to run), all of it on the path of a request waiting at idle. A statement is prepared on a
connection the first time that connection runs it, in a statement of its own (so a failed transaction
never takes the preparation with it), and remembered per connection: a new connection (after a restart
of the server, say) prepares it again. Parameter types are written out, so no argument depends on how
PostgreSQL would guess it.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence

from db.connection import database

_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # connection -> names prepared on it
_lock = threading.Lock()


class Prepared:
    """One statement: `sql` with `$1`..`$n` placeholders of the given PostgreSQL `types`."""

    def __init__(self, name: str, types: Sequence[str], sql: str):
        self.name = name
        self.types = tuple(types)
        self.sql = sql
        self.execute = f"EXECUTE {name} ({', '.join(['%s'] * len(self.types))})" if self.types else f"EXECUTE {name}"

    def text(self) -> str:
        """The `EXECUTE` for the bound database's current connection (psycopg2 placeholders), prepared
        there first if this connection has not run it yet."""
        connection = database.connection()
        with _lock:
            names = _prepared.setdefault(connection, set())
            if self.name in names:
                return self.execute
        database.execute_sql(f"PREPARE {self.name} ({', '.join(self.types)}) AS {self.sql}")
        with _lock:
            names.add(self.name)
        return self.execute
