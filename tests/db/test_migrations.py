import peewee

import db
from db import Job, migrate


def columns(database: peewee.Database) -> set[str]:
    return {column.name for column in database.get_columns("job")}


def test_migrations_build_a_job_table_with_every_model_field_on_sqlite(database):
    assert columns(database) == {field.column_name for field in Job._meta.sorted_fields}


def test_migrating_again_applies_nothing(database):
    assert migrate.pending() == []
    assert migrate.apply() == []


MIGRATIONS = ["001_initial", "002_reliability"]


def test_a_fresh_database_has_every_migration_pending(tmp_path):
    db.connect(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert migrate.pending() == MIGRATIONS
    assert migrate.apply() == MIGRATIONS
    assert "job" in db.database.get_tables()


def test_the_idempotency_key_is_unique_and_backlogs_are_indexed(database):
    indexes = {index.name: index for index in database.get_indexes("job")}
    assert indexes["job_idempotency_key"].unique
    assert indexes["job_model_status"].columns == ["model", "status"]


def test_migrations_roll_back_one_by_one(database):
    migrate.router().rollback()
    assert "sweeps" not in columns(database)
    assert migrate.pending() == ["002_reliability"]
    migrate.router().rollback()
    assert "job" not in database.get_tables()
    assert migrate.pending() == MIGRATIONS
