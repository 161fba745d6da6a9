"""The PostgreSQL pool: a connection back from a request is reused without a round trip; one that sat
longer is checked, so a connection the server dropped is replaced, not handed to a request."""

from __future__ import annotations

import psycopg2
import pytest

import db
from tests.servers import postgres_url


@pytest.fixture
def pool():
    bound = db.connect(postgres_url())
    yield bound
    bound.close_all()


def checkouts(pool, n: int) -> list[int]:
    pids = []
    for _ in range(n):
        with pool.connection_context():
            pids.append(pool.execute_sql("SELECT pg_backend_pid()").fetchone()[0])
    return pids


def test_a_connection_just_returned_is_reused_unchecked(pool, monkeypatch):
    checked = []
    real = pool._adapter.is_connection_closed
    monkeypatch.setattr(pool._adapter, "is_connection_closed", lambda conn: checked.append(1) or real(conn))
    pids = checkouts(pool, 5)
    assert len(set(pids)) == 1  # one pooled connection, reused
    assert checked == []  # no `SELECT 1` on the way out of the pool


def test_a_connection_idle_past_fresh_is_checked_and_replaced_if_dead(pool, monkeypatch):
    [first] = checkouts(pool, 1)
    monkeypatch.setattr(pool, "fresh", 0.0)  # every connection in the pool is now "sat too long"
    with psycopg2.connect(postgres_url()) as admin, admin.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", (first,))
    admin.close()
    [second] = checkouts(pool, 1)  # no error: the dead connection was found and dropped
    assert second != first
