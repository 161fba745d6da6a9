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
        database.execute_sql("DROP TABLE IF EXISTS webhook_delivery, job, migratehistory")
    migrate.apply()
    yield database
    database.close_all()
