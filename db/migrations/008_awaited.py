"""`awaited`: a request waits for this job's result (`Prefer: wait`, the OpenAI route), so the batch that
saves it puts the finished row in its notification and the API answers without reading it back
(`db.batch`). Other jobs' notifications stay their ids alone, which cost PostgreSQL nothing to render.

Adding a column with a constant default rewrites nothing (PostgreSQL 11 and later). An API older than
this leaves it false (its waiters read the job, as they always did); a worker older than this ignores it.
"""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields(
        migrator.orm["job"],
        awaited=pw.BooleanField(default=False, constraints=[pw.SQL("DEFAULT FALSE")]),  # old writers too
    )


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields(migrator.orm["job"], "awaited")
