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


def test_a_fresh_database_has_the_initial_migration_pending(tmp_path):
    db.connect(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert migrate.pending() == ["001_initial"]
    assert migrate.apply() == ["001_initial"]
    assert "job" in db.database.get_tables()


def test_rolling_back_the_initial_migration_drops_the_job_table(database):
    migrate.router().rollback()
    assert "job" not in database.get_tables()
    assert migrate.pending() == ["001_initial"]
