"""Statements prepared once per connection (`db.prepared`), on the real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from db import prepared
from tests.db.dialects import postgresql_only


def unique_sum() -> tuple[str, int]:
    """A text no other test prepared on this connection, and what it adds."""
    added = uuid.uuid4().int % 10**15
    return f"SELECT %s::bigint + {added}, %s::text", added


@postgresql_only
def test_a_statement_is_prepared_on_its_first_run_then_only_executed(database, statements_run):
    sql, added = unique_sum()
    assert prepared.execute(database, sql, (1, "a")).fetchall() == [(1 + added, "a")]
    assert prepared.execute(database, sql, (2, "b")).fetchall() == [(2 + added, "b")]
    assert [run.split()[0] for run in statements_run] == ["PREPARE", "EXECUTE", "EXECUTE"]
    name = statements_run[0].split()[1]
    assert statements_run[0] == f"PREPARE {name} AS SELECT $1::bigint + {added}, $2::text"
    assert statements_run[1] == statements_run[2] == f"EXECUTE {name} (%s, %s)"


@postgresql_only
def test_a_connection_that_lost_its_statements_prepares_them_again(database, statements_run):
    sql, added = unique_sum()
    assert prepared.execute(database, sql, (1, "a")).fetchall() == [(1 + added, "a")]
    database.execute_sql("DEALLOCATE ALL")  # as a pooler's reset or a new session behind the same connection
    statements_run.clear()
    assert prepared.execute(database, sql, (5, "c")).fetchall() == [(5 + added, "c")]
    assert [run.split()[0] for run in statements_run] == ["EXECUTE", "PREPARE", "EXECUTE"]


@postgresql_only
def test_a_statement_prepared_unknown_to_this_process_is_used_as_it_is(database):
    sql, added = unique_sum()
    name, text = prepared._prepared_form(sql)
    database.execute_sql(f"PREPARE {name} AS {text}")  # prepared on the session, not recorded here
    assert prepared.execute(database, sql, (3, "d")).fetchall() == [(3 + added, "d")]


@postgresql_only
def test_other_errors_are_raised_as_they_are(database):
    with pytest.raises(Exception, match="division by zero"):
        prepared.execute(database, "SELECT 1 / %s::int", (0,))


def test_a_text_with_a_literal_percent_sign_is_refused():
    with pytest.raises(ValueError, match="literal %"):
        prepared.execute(None, "SELECT '100%%' || %s", ("x",))
