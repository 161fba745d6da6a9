import falcon.testing
import pytest

from web import create_app


@pytest.fixture
def client(config, database, actors_stub, catalog):
    return falcon.testing.TestClient(create_app(config, actors=actors_stub, catalog=catalog))
