"""Tenants, retention and webhooks.

- `owner`: the id of the API key that created a job ('' without keys), indexed with `created_at` and `id`
  for listing a caller's jobs newest first; idempotency keys become unique per owner.
- `deleted_at` / `purged_at`: a job whose inputs and output were deleted (DELETE) or purged (RESULT_TTL)
  stays as a tombstone; `finished_at` is indexed so the purge finds its candidates without a scan.
- `webhook`, `webhook_events` on the job and one `webhook_delivery` row per event to deliver.
"""

import datetime as dt
import uuid

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    job = migrator.orm["job"]
    migrator.add_fields(
        job,
        owner=pw.CharField(max_length=32, default="", constraints=[pw.SQL("DEFAULT ''")]),  # old writers too
        deleted_at=pw.DateTimeField(null=True),
        purged_at=pw.DateTimeField(null=True),
        webhook=pw.TextField(null=True),
        webhook_events=pw.CharField(max_length=64, null=True),
    )
    migrator.drop_index(job, "idempotency_key")
    migrator.add_index(job, "owner", "idempotency_key", unique=True)  # NULL keys never collide
    migrator.add_index(job, "owner", "created_at", "id")
    migrator.add_index(job, "finished_at")
    job_table = job  # the class body below assigns `job`, which would hide this one

    @migrator.create_model
    class WebhookDelivery(pw.Model):
        id = pw.UUIDField(primary_key=True, default=uuid.uuid4)
        job = pw.ForeignKeyField(job_table, on_delete="CASCADE", backref="deliveries")
        event = pw.CharField(max_length=16)
        url = pw.TextField()
        owner = pw.CharField(max_length=32, default="")
        status = pw.CharField(max_length=16, default="pending", index=True)
        attempts = pw.IntegerField(default=0)
        last_status_code = pw.IntegerField(null=True)
        last_error = pw.TextField(null=True)
        created_at = pw.DateTimeField(default=dt.datetime.utcnow)
        sent_at = pw.DateTimeField(null=True)
        attempted_at = pw.DateTimeField(null=True)
        delivered_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "webhook_delivery"
            indexes = ((("job", "event"), True),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model(migrator.orm["webhook_delivery"])
    job = migrator.orm["job"]
    migrator.drop_index(job, "finished_at")
    migrator.drop_index(job, "owner", "created_at", "id")
    migrator.drop_index(job, "owner", "idempotency_key")
    migrator.add_index(job, "idempotency_key", unique=True)
    migrator.remove_fields(job, "owner", "deleted_at", "purged_at", "webhook", "webhook_events")
