"""Idempotency keys for POST /inference and a count of sweeper re-sends."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    job = migrator.orm["job"]
    migrator.add_fields(
        job,
        idempotency_key=pw.CharField(max_length=255, null=True, unique=True),
        request_hash=pw.CharField(max_length=64, null=True),
        sweeps=pw.IntegerField(default=0),
        swept_at=pw.DateTimeField(null=True),
    )
    migrator.add_index(job, "model", "status")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    job = migrator.orm["job"]
    migrator.drop_index(job, "model", "status")
    migrator.remove_fields(job, "idempotency_key", "request_hash", "sweeps", "swept_at")
