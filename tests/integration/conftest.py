from dataclasses import replace

import pytest
from falcon.testing import TestClient

import db
from actors.registry import Runtimes
from actors.sending import open_sender
from actors.setup import worker_sender
from db import migrate
from tests import servers
from web import create_app


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


@pytest.fixture
def api_and_worker_sides(config, postgres, rabbitmq_url, catalog, models_dir, stub_worker):
    """The API (a test client and its sender) and a real Dramatiq worker, each with its own RabbitmqBroker, as
    in two processes."""
    config = replace(config, broker_url=rabbitmq_url, models_dir=models_dir)
    worker_side = worker_sender(rabbitmq_url, Runtimes(catalog, models_dir), preload=[catalog.default])
    worker_side.broker.flush_all()
    api_side = open_sender(rabbitmq_url)
    client = TestClient(create_app(config, sender=api_side, catalog=catalog))
    stub_worker(worker_side.broker)
    yield client, api_side, worker_side
    api_side.broker.close()
    worker_side.broker.close()
