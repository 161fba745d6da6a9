"""Embeddings as float32 bytes (`db.vectors`): a `vectors` column beside `output`, which keeps the rest.

Adding a nullable column rewrites nothing. Rows written before keep their vectors in `output` (their
`vectors` is null) and read back as they were. Upgrade the workers, then the API (docs/operations.md#upgrades).
"""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields(migrator.orm["job"], vectors=pw.BlobField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields(migrator.orm["job"], "vectors")
