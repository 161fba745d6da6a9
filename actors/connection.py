"""One way for the worker side's threads to hand their database connection back.

Connections open on first use (Peewee's autoconnect); a loop (batcher, writer, lease renewer, heartbeat,
sweeper) or a hook that used one returns it to the pool when its unit of work ends, however it ends
(`finally: close_connection()`), so a thread holds no connection while it waits. Peewee's
`connection_context()` would open one on entry: a unit of work that needs no query would open one, and a
database that is down would fail on entry, outside the handler each loop has for its outage.
"""

from __future__ import annotations

from db import database


def close_connection() -> None:
    """Return this thread's connection to the pool, if it has one open."""
    if not database.is_closed():
        database.close()
