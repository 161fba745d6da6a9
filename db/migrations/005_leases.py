"""Leases: a running job holds one its worker renews; the sweeper sends it again only once it expired."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields(migrator.orm["job"], lease_expires_at=pw.DateTimeField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields(migrator.orm["job"], "lease_expires_at")
