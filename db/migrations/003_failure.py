"""Why a failed job failed, as a code of its own (`failure`), instead of matching its error text."""

import peewee as pw
from peewee_migrate import Migrator

NOT_ENQUEUED_TEXT = "not enqueued: the message broker was unavailable"  # what 002-era rows say


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    job = migrator.orm["job"]
    migrator.add_fields(job, failure=pw.CharField(max_length=32, null=True))
    migrator.run(
        lambda: (
            job.update(failure="not_enqueued")
            .where((job.status == "failed") & (job.error == NOT_ENQUEUED_TEXT))
            .execute()
        )
    )


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields(migrator.orm["job"], "failure")
