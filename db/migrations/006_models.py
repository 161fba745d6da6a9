"""What is prepared and who runs it: a `model` row per catalog model and preparation (what its manifest
says), and a `worker` row per live worker process (the models it has loaded, refreshed by a heartbeat).

The API answers `GET /models` from these, whichever host it runs on: it reads no model files.
"""

import datetime as dt

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class PreparedModel(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=200)
        digest = pw.CharField(max_length=64)  # sha256 of the ONNX file: one row per name and preparation
        source = pw.CharField(max_length=500)
        task = pw.CharField(max_length=64)
        quantization = pw.CharField(max_length=64, null=True)
        optimization = pw.CharField(max_length=16, null=True)
        files = pw.JSONField(default=dict)  # file name -> sha256
        versions = pw.JSONField(default=dict)  # library -> version used to prepare it
        manifest = pw.JSONField(default=dict)  # the whole manifest (max length, dimensions, labels, ...)
        onnx_bytes = pw.BigIntegerField(null=True)
        prepared_at = pw.DateTimeField()
        recorded_at = pw.DateTimeField(default=dt.datetime.utcnow)

        class Meta:
            table_name = "model"
            indexes = ((("name", "digest"), True),)

    @migrator.create_model
    class WorkerProcess(pw.Model):
        id = pw.CharField(max_length=200, primary_key=True)  # host:pid:random, unique per process start
        host = pw.CharField(max_length=255)
        pid = pw.IntegerField()
        models = pw.JSONField(default=list)  # the model names loaded in this process now
        started_at = pw.DateTimeField()
        seen_at = pw.DateTimeField()
        expires_at = pw.DateTimeField(index=True)  # seen_at + the worker's own expiry (3 heartbeats)

        class Meta:
            table_name = "worker"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model(migrator.orm["worker"])
    migrator.remove_model(migrator.orm["model"])
