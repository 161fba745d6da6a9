"""Files and batches: `file` and its content in `file_chunk` rows, `batch` and one `batch_request` per input
line (`db.bulk`). New tables only: nothing that exists changes, and an API or worker older than this never
reads them."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class File(pw.Model):
        id = pw.CharField(max_length=40, primary_key=True)
        owner = pw.CharField(max_length=32, default="")
        purpose = pw.CharField(max_length=32)
        filename = pw.CharField(max_length=255)
        bytes = pw.BigIntegerField(default=0)
        lines = pw.IntegerField(default=0)
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "file"
            indexes = ((("owner", "created_at", "id"), False),)

    @migrator.create_model
    class FileChunk(pw.Model):
        file = pw.CharField(max_length=40)
        seq = pw.IntegerField()
        data = pw.BlobField()
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "file_chunk"
            indexes = ((("file", "seq"), True),)

    @migrator.create_model
    class Batch(pw.Model):
        id = pw.CharField(max_length=40, primary_key=True)
        owner = pw.CharField(max_length=32, default="")
        endpoint = pw.CharField(max_length=64)
        input_file_id = pw.CharField(max_length=40)
        completion_window = pw.CharField(max_length=8)
        status = pw.CharField(max_length=16, index=True)
        output_file_id = pw.CharField(max_length=40, null=True)
        error_file_id = pw.CharField(max_length=40, null=True)
        errors = pw.JSONField(null=True)
        metadata = pw.JSONField(null=True)
        total = pw.IntegerField(default=0)
        completed = pw.IntegerField(default=0)
        failed = pw.IntegerField(default=0)
        created_at = pw.DateTimeField()
        expires_at = pw.DateTimeField()
        in_progress_at = pw.DateTimeField(null=True)
        finalizing_at = pw.DateTimeField(null=True)
        completed_at = pw.DateTimeField(null=True)
        failed_at = pw.DateTimeField(null=True)
        expired_at = pw.DateTimeField(null=True)
        cancelling_at = pw.DateTimeField(null=True)
        cancelled_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "batch"
            indexes = ((("owner", "created_at", "id"), False),)

    @migrator.create_model
    class BatchRequest(pw.Model):
        id = pw.CharField(max_length=40, primary_key=True)
        batch = pw.CharField(max_length=40)
        line = pw.IntegerField()
        custom_id = pw.TextField(null=True)
        owner = pw.CharField(max_length=32, default="")
        model = pw.CharField(max_length=200, null=True)
        task = pw.CharField(max_length=64, null=True)
        inputs = pw.JSONField(null=True)
        parameters = pw.JSONField(null=True)
        encoding = pw.CharField(max_length=16, null=True)
        error_code = pw.CharField(max_length=64, null=True)
        error_message = pw.TextField(null=True)
        job = pw.UUIDField(null=True, index=True)

        class Meta:
            table_name = "batch_request"
            indexes = ((("batch", "line"), True),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    for table in ("batch_request", "batch", "file_chunk", "file"):
        migrator.remove_model(migrator.orm[table])
