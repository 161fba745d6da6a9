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


def test_every_pooled_connection_carries_keepalives_a_user_timeout_and_a_connect_timeout(pool):
    with pool.connection_context():
        used = pool.connection().get_dsn_parameters()
    assert used["keepalives"] == "1"
    assert int(used["keepalives_idle"]) + int(used["keepalives_interval"]) * int(used["keepalives_count"]) <= 30
    assert 0 < int(used["tcp_user_timeout"]) <= 30_000
    assert 0 < int(used["connect_timeout"]) <= 10


def test_a_multi_host_url_reaches_libpq_intact_with_its_session_attributes():
    url = "postgresql://app@db-a:5432,db-b:5433/jobs?target_session_attrs=read-write&keepalives_idle=7"
    parameters = db.connection.postgres_parameters(url, statement_timeout_ms=500)
    assert (parameters["host"], parameters["port"]) == ("db-a,db-b", "5432,5433")
    assert (parameters["database"], parameters["user"]) == ("jobs", "app")
    assert parameters["target_session_attrs"] == "read-write"
    assert parameters["keepalives_idle"] == "7"  # the URL's own value wins over the default
    assert parameters["options"] == "-c synchronous_commit=on -c jit=off -c statement_timeout=500"


def test_a_multi_host_url_connects_through_the_pool_to_a_host_that_answers():
    host, port = postgres_url().split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)
    user = postgres_url().split("//", 1)[1].split("@", 1)[0]
    url = f"postgresql://{user}@{host}:1,{host}:{port}/postgres?target_session_attrs=read-write"
    bound = db.connect(url)
    try:
        with bound.connection_context():
            assert bound.execute_sql("SELECT pg_is_in_recovery()").fetchone() == (False,)
            assert bound.connection().get_dsn_parameters()["target_session_attrs"] == "read-write"
            assert bound.execute_sql("SHOW jit").fetchone() == ("off",)  # short statements: never compiled
    finally:
        bound.close_all()


def test_the_configured_network_bounds_reach_a_postgresql_url_and_leave_its_own_alone():
    from core.config import Config

    config = Config.from_env(
        {"DATABASE_URL": "postgresql://u@a,b/db?connect_timeout=2", "DB_TCP_USER_TIMEOUT_MS": "9000"}
    )
    parameters = db.connection.postgres_parameters(config.database)
    assert parameters["connect_timeout"] == "2" and parameters["tcp_user_timeout"] == "9000"
    assert parameters["host"] == "a,b" and parameters["keepalives"] == "1"
    assert Config.from_env({}).database.startswith("sqlite:///")  # SQLite takes none of them
