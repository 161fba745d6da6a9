import falcon.testing
import pytest

from web import create_app


@pytest.fixture
def client(config, database, sender_stub, catalog):
    return falcon.testing.TestClient(create_app(config, sender=sender_stub, catalog=catalog))
