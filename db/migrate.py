"""Apply the migrations in db/migrations to the bound database (peewee-migrate)."""

from __future__ import annotations

import logging
from pathlib import Path

from peewee_migrate import Router

from db.connection import database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def router() -> Router:
    return Router(database.obj, migrate_dir=MIGRATIONS_DIR, logger=logging.getLogger("db.migrate"))


def pending() -> list[str]:
    return list(router().diff)


def apply() -> list[str]:
    """Run every pending migration; return the names applied (empty when up to date)."""
    with database.connection_context():
        return router().run()
