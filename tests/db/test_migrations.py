import re

import peewee
import pytest
from playhouse.db_url import connect

import db
from db import Job, migrate
from tests import servers
from tests.db.dialects import postgresql_only


def columns(database: peewee.Database) -> set[str]:
    return {column.name for column in database.get_columns("job")}


def test_migrations_build_a_job_table_with_every_model_field(database):
    assert columns(database) == {field.column_name for field in Job._meta.sorted_fields}


def test_migrating_again_applies_nothing(database):
    assert migrate.pending() == []
    assert migrate.apply() == []


MIGRATIONS = sorted(p.stem for p in migrate.MIGRATIONS_DIR.glob("[0-9]*.py"))


def test_a_fresh_database_has_every_migration_pending(tmp_path):
    db.connect(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert migrate.pending() == MIGRATIONS
    assert migrate.apply() == MIGRATIONS
    assert "job" in db.database.get_tables()


def test_idempotency_keys_are_unique_per_owner_and_backlogs_and_listings_are_indexed(database):
    indexes = {index.name: index for index in database.get_indexes("job")}
    assert "job_idempotency_key" not in indexes  # no longer global (004)
    assert indexes["job_owner_idempotency_key"].unique
    assert indexes["job_owner_idempotency_key"].columns == ["owner", "idempotency_key"]
    assert "idempotency_key is not null" in indexes["job_owner_idempotency_key"].sql.lower()  # keyed rows (012)
    assert indexes["job_pending_status_model"].columns == ["status", "model"]
    assert "not_enqueued" in indexes["job_pending_status_model"].sql  # partial: pending jobs only (012)
    assert indexes["job_owner_created_at_id"].columns == ["owner", "created_at", "id"]
    assert not {"job_finished_at", "job_status", "job_model_status", "job_created_at"} & set(indexes)  # 010, 012
    assert indexes["job_unerased_finished_at"].columns == ["finished_at"]
    assert "purged_at is null" in indexes["job_unerased_finished_at"].sql.lower()  # partial: unerased rows only
    assert "finished_at is not null" in indexes["job_unerased_finished_at"].sql.lower()  # and finished (012)


def shape(index: peewee.IndexMetadata) -> tuple:
    """What an index is, whoever wrote its statement: its columns, whether unique, and its predicate with the
    quotes and parentheses a writer adds left out."""
    predicate = (index.sql or "").partition(" WHERE ")[2]
    return tuple(index.columns), index.unique, re.sub(r'[\s"()]+', " ", predicate).strip().lower()


def test_the_migrated_job_table_has_the_models_indexes_and_no_other(database):
    """The model's indexes (`db.jobs.model`) are the migrations': a table made from the model has the same ones."""
    migrated = {index.name: shape(index) for index in database.get_indexes("job")}
    if isinstance(database, peewee.PostgresqlDatabase):
        scratch = connect(servers.postgres_url(f"{servers.TEST_DATABASE}_model"))
        scratch.execute_sql("DROP TABLE IF EXISTS job CASCADE")
    else:
        scratch = peewee.SqliteDatabase(":memory:")
    try:
        with scratch.bind_ctx([Job]):
            Job.create_table()
        modelled = {index.name: shape(index) for index in scratch.get_indexes("job")}
    finally:
        scratch.close()
    assert migrated == modelled
    assert len(migrated) == 5  # the key, the listings', and three partial ones


def test_idempotency_keys_stay_unique_per_owner_and_jobs_without_one_never_collide(database):
    row = {"model": "m", "task": "feature-extraction", "inputs": ["a"]}
    Job.create(**row, owner="k1", idempotency_key="key")
    Job.create(**row, owner="k2", idempotency_key="key")
    Job.create(**row, owner="k1")
    Job.create(**row, owner="k1")
    with pytest.raises(peewee.IntegrityError), database.atomic():
        Job.create(**row, owner="k1", idempotency_key="key")
    assert Job.select().count() == 4


def test_migrations_roll_back_one_by_one(database):
    for undone in range(1, len(MIGRATIONS) + 1):
        migrate.router().rollback()
        assert migrate.pending() == MIGRATIONS[-undone:]
        if MIGRATIONS[-undone] == "002_reliability":
            assert "sweeps" not in columns(database)
    assert "job" not in database.get_tables()


def test_a_job_that_failed_as_not_enqueued_before_003_gets_its_failure_code(database):
    while "003_failure" not in migrate.pending():  # back to 002, where "not enqueued" was only error text
        migrate.router().rollback()
    database.execute_sql(
        "INSERT INTO job (id, model, task, inputs, parameters, status, error, attempts, created_at, sweeps) "
        "VALUES ('6d1c2b9e-7f43-4a55-9d0e-0a5b3c2d1e0f', 'm', 'feature-extraction', '[\"a\"]', '{}', 'failed', "
        "'not enqueued: the message broker was unavailable', 0, '2026-11-26 00:00:00', 0)"
    )
    migrate.apply()
    (job,) = Job.select()
    assert (job.failure, job.never_enqueued) == ("not_enqueued", True)


def test_a_row_written_without_an_owner_gets_the_open_owner_so_older_writers_keep_working(database):
    database.execute_sql(
        "INSERT INTO job (id, model, task, inputs, parameters, status, attempts, created_at, sweeps) "
        "VALUES ('0b5f2a7e-1c3d-4e5f-8a9b-0c1d2e3f4a5b', 'm', 'feature-extraction', '[\"a\"]', '{}', 'queued', 0, "
        "'2026-11-26 00:00:00', 0)"
    )
    (job,) = Job.select()
    assert job.owner == ""


@postgresql_only
def test_batch_file_chunks_are_compressed_with_lz4_where_the_server_has_it(database):
    has_lz4 = database.execute_sql(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    ).fetchone()[0]
    (compression,) = database.execute_sql(
        "SELECT attcompression FROM pg_attribute WHERE attrelid = 'file_chunk'::regclass AND attname = 'data'"
    ).fetchone()
    assert compression == ("l" if has_lz4 else "")
