"""Create the job table."""

import datetime as dt
import uuid

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class Job(pw.Model):
        id = pw.UUIDField(primary_key=True, default=uuid.uuid4)
        model = pw.CharField(max_length=200)
        task = pw.CharField(max_length=64)
        inputs = pw.JSONField()
        parameters = pw.JSONField(default=dict)
        status = pw.CharField(max_length=16, default="queued", index=True)
        output = pw.JSONField(null=True)
        error = pw.TextField(null=True)
        attempts = pw.IntegerField(default=0)
        created_at = pw.DateTimeField(default=dt.datetime.utcnow, index=True)
        started_at = pw.DateTimeField(null=True)
        finished_at = pw.DateTimeField(null=True)
        queue_ms = pw.FloatField(null=True)
        inference_ms = pw.FloatField(null=True)

        class Meta:
            table_name = "job"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model(migrator.orm["job"])
