"""The statements that differ by database, one strategy object per dialect, chosen once by `db.connect`
when it binds the database (`db.connection.statements`), so no method asks which database it runs on.

SQLite (the embedded mode) runs what peewee's query builder writes. PostgreSQL runs the hot paths of a job
(a group of POSTs inserted, a batch claimed, a batch's outcomes saved, jobs read by id) as fixed or cached
texts of one statement each (`db.batch`), and announces the finished jobs a request waits for (`awaited`) to
other processes with NOTIFY.
A strategy takes the model it works on (`db.jobs.Job`) as an argument: this module imports no model, so
`db.connection` can import it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import peewee

from core.owners import OPEN
from db.batch import CLAIM, NOTIFY_NOTICE, ROW_NOTICE, UNSYNCHRONIZED, finish_in_one_statement, insert_sql
from db.lifecycle import Status, check

CHANNEL = "inference_job_finished"  # PostgreSQL's channel for finished jobs (`db.events`)

SELECT_MANY = 'SELECT * FROM "job" WHERE "id" = ANY(%s::uuid[])'  # one fixed text: the ids are one array
# The jobs of the ids that a request waits for, announced as a batch's save announces them (`db.batch`): with
# their row when it fits; the others not at all. Run after the statement that finished them, in its
# transaction or after its commit: a mark of `awaited` committed before that statement is read here, and a
# later one returns the finished row itself (`MARK_AWAITED`).
NOTIFY = f"""
SELECT {NOTIFY_NOTICE}
FROM (SELECT job.id, {ROW_NOTICE} AS notice FROM job WHERE job.id = ANY(%s::uuid[]) AND job.awaited) AS awaited
"""
# A request is about to wait for a job created unawaited (GET ?wait): marked awaited, and the row returned as it
# stands, in one statement. Either the save that finishes the job committed first, and this returns the
# finished row (READ COMMITTED waits for that save and re-reads the row), or this committed first, and the save
# reads `awaited` and announces it. Committed without waiting for the disk: a mark lost with the server costs
# only a notification, and the waiter's re-reads remain.
SET_AWAITED = "UPDATE job SET awaited = true WHERE id = %s::uuid"
MARK_AWAITED = UNSYNCHRONIZED + SET_AWAITED + " RETURNING *"

# The write of a job created without waiting for the disk (`Job.make_durable`), in a transaction that waits for it:
# PostgreSQL flushes its log up to a synchronous commit only when the transaction wrote to it (an id alone, as
# `pg_current_xact_id()` takes, is committed without a flush), so the job's own row is written again: the same
# mark, set as it already is, committed synchronously. The flush takes every earlier commit with it, the job's
# first one too.
MAKE_DURABLE = SET_AWAITED


class Statements:
    """The statements of one dialect, for the bound database `db`. Each takes the model it works on.

    Shared by both: `find`'s SELECT, written by peewee once per bound database (it is read on every wait and
    every GET: peewee writing a SELECT of every column was most of a read's CPU)."""

    notifies = False  # whether other processes can be told of finished jobs (LISTEN/NOTIFY)

    def __init__(self, db: peewee.Database):
        self.db = db
        self._select_one: dict[bool, str] = {}

    def find(self, model: Any, params: list, *, by_owner: bool) -> list:
        """The jobs (one or none) of the id in `params` (then its owner, when `by_owner`)."""
        sql = self._select_one.get(by_owner)
        if sql is None:
            sql = self._select_one[by_owner] = self._select_one_sql(model, by_owner)
        return model.from_cursor(self.db.execute_sql(sql, params))

    def _select_one_sql(self, model: Any, by_owner: bool) -> str:
        where = model.id == uuid.UUID(int=0)
        if by_owner:
            where &= model.owner == OPEN
        return model.select().where(where).bind(self.db).sql()[0]  # the id is unique: no LIMIT (a parameter on SQLite)

    def insert(self, model: Any, jobs: list, *, durable: bool = True) -> None:
        """Insert `jobs` (made, not yet saved) in one statement; `durable=False`: its commit need not wait for
        the disk (`Job.create_many`)."""
        raise NotImplementedError

    def make_durable(self, model: Any, job_id) -> None:
        """Return once the job `job_id`, committed earlier without waiting for the disk, is on disk."""
        raise NotImplementedError

    def find_many(self, model: Any, job_ids: list) -> list:
        """The jobs of `job_ids` that exist, in one statement."""
        raise NotImplementedError

    def claim_fresh(self, model: Any, job_ids: list, *, now: dt.datetime, lease: dt.timedelta) -> list:
        """Those of `job_ids` queued and never started, moved to running at `now` with a lease (`Job.claim_fresh`)."""
        raise NotImplementedError

    def save_outcomes(self, model: Any, outcomes: list[tuple[Any, dict]], *, now: dt.datetime) -> list:
        """Inside a transaction: the outcomes of running jobs, guarded like `Job.finish`; the ids written."""
        raise NotImplementedError

    def save_outcomes_announced(self, model: Any, outcomes: list[tuple[Any, dict]], *, now: dt.datetime) -> list:
        """`save_outcomes` and `announce` in one statement, its own transaction: only where `notifies`."""
        raise NotImplementedError(f"{type(self).__name__} cannot announce finished jobs")

    def announce(self, job_ids: list) -> None:
        """Inside the transaction that finished `job_ids`, or after it committed: tell the other processes, where
        there are any, of those a request waits for."""
        raise NotImplementedError

    def mark_awaited(self, model: Any, job_id) -> list:
        """Before a request waits for the job `job_id`: record that it does, where finished jobs are announced
        to the awaited ones only, and return the job as it stands then (one or none); nothing to record or
        read ([]) where every waiter is told in-process."""
        raise NotImplementedError


class SqliteStatements(Statements):
    """The embedded mode's database: peewee's queries, one job at a time where they must be, and no
    announcements beyond this process (there is no other)."""

    def insert(self, model: Any, jobs: list, *, durable: bool = True) -> None:
        """Every commit here is as durable as the embedded database makes it: `durable` changes nothing."""
        model.insert_many([job.__data__ for job in jobs]).execute()  # SQLite's JSON is a SQL function: peewee's

    def make_durable(self, model: Any, job_id) -> None:
        """Nothing: no insert here skipped the disk."""

    def find_many(self, model: Any, job_ids: list) -> list:
        return list(model.select().where(model.id.in_(job_ids)))

    def claim_fresh(self, model: Any, job_ids: list, *, now: dt.datetime, lease: dt.timedelta) -> list:
        query = model._move(
            model.id.in_(job_ids) & (model.attempts == 0),
            Status.RUNNING,
            allowed_from={Status.QUEUED},
            started_at=now,
            attempts=1,
            swept_at=None,
            lease_expires_at=now + lease,
        ).returning(model)
        return list(query.execute())

    def save_outcomes(self, model: Any, outcomes: list[tuple[Any, dict]], *, now: dt.datetime) -> list:
        """Each outcome as `Job.finish` writes it (each job stamped with its own finish time)."""
        return [job.id for job, fields in outcomes if job.finish(**fields, notify=False)]

    def announce(self, job_ids: list) -> None:
        """Nothing: no other process shares an SQLite database's jobs."""

    def mark_awaited(self, model: Any, job_id) -> list:
        """Nothing: every finished job is published to this process' waiters (`db.events`), awaited or not."""
        return []


class PostgresStatements(Statements):
    """Production's database: each hot path one statement whose text is fixed or cached (`db.batch`), its
    values converted by the model's fields; finished jobs a request waits for announced with `pg_notify`."""

    notifies = True

    def insert(self, model: Any, jobs: list, *, durable: bool = True) -> None:
        """One statement: atomic, one round trip; its text is cached (peewee writing it for every POST was a
        large share of a request's CPU), only the values are converted, each by its field. Not `durable`:
        its transaction alone opts out of `synchronous_commit`, in the same query string."""
        fields = [f for f in model._meta.sorted_fields if any(f.name in job.__data__ for job in jobs)]
        params = [field.db_value(job.__data__.get(field.name)) for job in jobs for field in fields]
        columns = tuple(field.column_name for field in fields)
        sql = insert_sql(model._meta.table_name, columns, len(jobs))
        self.db.execute_sql(sql if durable else UNSYNCHRONIZED + sql, params)

    def make_durable(self, model: Any, job_id) -> None:
        """One fixed statement (`MAKE_DURABLE`), its own synchronous transaction."""
        self.db.execute_sql(MAKE_DURABLE, [str(job_id)])

    def find_many(self, model: Any, job_ids: list) -> list:
        return model.from_cursor(self.db.execute_sql(SELECT_MANY, [[str(job_id) for job_id in job_ids]]))

    def claim_fresh(self, model: Any, job_ids: list, *, now: dt.datetime, lease: dt.timedelta) -> list:
        """One fixed statement (`db.batch.CLAIM`), committed without waiting for the disk."""
        check(Status.RUNNING, {Status.QUEUED})
        ids = [str(job_id) for job_id in job_ids]
        return model.from_cursor(self.db.execute_sql(CLAIM, [Status.RUNNING, now, now + lease, ids, Status.QUEUED]))

    def save_outcomes(self, model: Any, outcomes: list[tuple[Any, dict]], *, now: dt.datetime) -> list:
        """One `UPDATE ... FROM (VALUES ...)` for the whole batch (`db.batch`)."""
        return finish_in_one_statement(self.db, outcomes, model.result.db_value, now=now)

    def save_outcomes_announced(self, model: Any, outcomes: list[tuple[Any, dict]], *, now: dt.datetime) -> list:
        return finish_in_one_statement(self.db, outcomes, model.result.db_value, now=now, notify=CHANNEL)

    def announce(self, job_ids: list) -> None:
        """Those of `job_ids` a request waits for (`NOTIFY`), delivered to listeners when the transaction commits."""
        if job_ids:
            self.db.execute_sql(NOTIFY, (CHANNEL, [str(job_id) for job_id in job_ids]))

    def mark_awaited(self, model: Any, job_id) -> list:
        """One fixed statement (`MARK_AWAITED`), its own transaction."""
        return model.from_cursor(self.db.execute_sql(MARK_AWAITED, [str(job_id)]))


DIALECTS: dict[str, type[Statements]] = {  # a database URL's scheme -> its statements
    "sqlite": SqliteStatements,
    "postgres": PostgresStatements,
    "postgresql": PostgresStatements,
}
