"""Statements prepared once per PostgreSQL connection (`db.prepared`)."""

import pytest

from db import database
from db.prepared import Prepared

pytestmark = pytest.mark.integration

TWICE = Prepared("test_twice", ("int",), "SELECT $1 * 2")


def prepared_here() -> list[str]:
    return [row[0] for row in database.execute_sql("SELECT name FROM pg_prepared_statements ORDER BY name")]


def test_a_statement_is_prepared_once_per_connection_and_again_on_a_new_one(postgres):
    with database.connection_context():
        assert [database.execute_sql(TWICE.text(), (n,)).fetchone()[0] for n in (2, 3)] == [4, 6]
        assert prepared_here() == ["test_twice"]
        connection = database.connection()
    postgres.close_all()  # the pool's connections are closed: the next one never saw the statement
    with database.connection_context():
        assert database.connection() is not connection
        assert prepared_here() == []
        assert database.execute_sql(TWICE.text(), (5,)).fetchone()[0] == 10


def test_a_statement_prepared_in_a_transaction_that_rolls_back_stays_prepared(postgres):
    with database.connection_context():
        with database.atomic() as transaction:
            TWICE.text()
            transaction.rollback()
        assert database.execute_sql(TWICE.text(), (7,)).fetchone()[0] == 14  # PREPARE is not transactional
