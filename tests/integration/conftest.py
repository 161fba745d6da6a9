import pytest

import db
from db import migrate
from tests import servers


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return servers.postgres_url()


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    return servers.rabbitmq_url()


@pytest.fixture
def postgres(postgres_url):
    """Our own PostgreSQL database, emptied and migrated for each test."""
    database = db.connect(postgres_url, max_connections=8)
    with database.connection_context():
        tables = [row[0] for row in database.execute_sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        if tables:  # every table, whichever migrations made it
            quoted = ", ".join(f'"{table}"' for table in tables)
            database.execute_sql(f"DROP TABLE IF EXISTS {quoted} CASCADE")
    migrate.apply()
    yield database
    database.close_all()
