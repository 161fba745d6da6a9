"""The rendered overlays (tests/deploy/conftest.py), for the tests that check monitoring against them."""

from tests.deploy.conftest import objects, overlays, production_secret, rendered  # noqa: F401
