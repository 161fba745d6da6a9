"""The purge's index: `finished_at` of the rows that still hold their inputs and output (neither purged nor
deleted), in place of `finished_at` over every row. Once retention runs, erased rows are most of the table;
the purge's candidates are then a small index of their own, whatever the table's size, instead of an
index (or a scan) over every tombstone (`db.retention.purge`).

Building it reads the job table once, inside this migration's transaction: writes to the table wait for
that read (seconds per million rows), so apply it at a quiet time on a large table."""

import peewee as pw
from peewee_migrate import Migrator

UNERASED = "purged_at IS NULL AND deleted_at IS NULL"


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.drop_index(migrator.orm["job"], "finished_at")
    migrator.sql(f"CREATE INDEX job_unerased_finished_at ON job (finished_at) WHERE {UNERASED}")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("DROP INDEX job_unerased_finished_at")
    migrator.add_index(migrator.orm["job"], "finished_at")
