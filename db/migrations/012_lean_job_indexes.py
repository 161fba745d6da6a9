"""The job table keeps the indexes its queries read, and no other. A job's row is written three times (queued,
running, finished), and each write that changes its status puts a new version of the row in every index of
the table whose predicate it meets: the seven indexes before this migration took 21 index writes a job, these five
take 9 (12 for a job with an idempotency key).

- `job_pending_status_model`, (status, model) of the pending jobs only: queued, running, or failed as never
  enqueued (a replay or the batch keeper sends it again). It replaces `job_status` and `job_model_status`:
  the backlogs, the sweeper, the leases and the bulk lane read only pending jobs, and the save that finishes
  a job writes nothing in it. Its predicate is written as equalities, which SQLite's planner matches to a
  query's `status = ?` (it does not match an IN list).
- `job_created_at` goes: the listings read `job_owner_created_at_id`, the sweeper the pending index.
- `job_owner_idempotency_key` covers only the rows that have a key (NULL keys never collided: the keys are
  unique per owner as before); a job without a key, and a tombstone (its key erased), writes nothing in it.
- `job_unerased_finished_at` covers only finished rows: the purge's `finished_at < cutoff` never reads a
  NULL, so a queued or running job writes nothing in it.

PostgreSQL builds every new index before it drops an old one (an index rebuilt under its name is renamed out
of the way first): building reads the whole job table once per index (three reads) under a lock that holds
writes back and lets reads go on; the drops, at the end, hold reads back only until the commit that follows.
About 0.8 s per million rows with the table in memory, more from disk: on a large table, migrate at a
quiet time. SQLite, which locks the whole database for a migration anyway, drops first."""

import peewee as pw
from peewee_migrate import Migrator

PENDING = "status = 'queued' OR status = 'running' OR failure = 'not_enqueued'"
UNERASED = "purged_at IS NULL AND deleted_at IS NULL"

BUILT = {
    "job_pending_status_model": f"CREATE INDEX job_pending_status_model ON job (status, model) WHERE {PENDING}",
    "job_owner_idempotency_key": "CREATE UNIQUE INDEX job_owner_idempotency_key ON job (owner, idempotency_key) "
    "WHERE idempotency_key IS NOT NULL",
    "job_unerased_finished_at": "CREATE INDEX job_unerased_finished_at ON job (finished_at) "
    f"WHERE finished_at IS NOT NULL AND {UNERASED}",
}
REPLACED = {  # as 011 left them; `job_status`, `job_created_at` and `job_model_status` are the migrator's
    "job_owner_idempotency_key": "CREATE UNIQUE INDEX job_owner_idempotency_key ON job (owner, idempotency_key)",
    "job_unerased_finished_at": f"CREATE INDEX job_unerased_finished_at ON job (finished_at) WHERE {UNERASED}",
}
PLAIN = (("status",), ("created_at",), ("model", "status"))  # job_status, job_created_at, job_model_status


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    job = migrator.orm["job"]
    swap(migrator, database, build=BUILT, drop=REPLACED)
    for columns in PLAIN:
        migrator.drop_index(job, *columns)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    job = migrator.orm["job"]
    for columns in PLAIN:
        migrator.add_index(job, *columns)
    swap(migrator, database, build=REPLACED, drop=BUILT)


def swap(migrator: Migrator, database: pw.Database, *, build: dict[str, str], drop: dict[str, str]) -> None:
    """Build the indexes `build` (name -> statement) and drop those named in `drop`; a name in both is rebuilt.
    On PostgreSQL every build comes before any drop."""
    if not isinstance(database, pw.PostgresqlDatabase):
        for name in drop:
            migrator.sql(f"DROP INDEX {name}")
        for statement in build.values():
            migrator.sql(statement)
        return
    rebuilt = [name for name in drop if name in build]
    for name in rebuilt:
        migrator.sql(f"ALTER INDEX {name} RENAME TO {name}_replaced")
    for statement in build.values():
        migrator.sql(statement)
    for name in drop:
        migrator.sql(f"DROP INDEX {name}_replaced" if name in rebuilt else f"DROP INDEX {name}")
