"""The statements that differ by database, one strategy object per dialect, chosen once by `db.connect`
when it binds the database (`db.connection.statements`), so no method asks which database it runs on.

SQLite (the embedded mode) runs what peewee's query builder writes. PostgreSQL runs the hot paths of a job
(a group of POSTs inserted, a batch claimed, a batch's outcomes saved, jobs read by id) as fixed or cached
texts of one statement each (`db.batch`), and announces finished jobs to other processes with NOTIFY.
A strategy takes the model it works on (`db.jobs.Job`) as an argument: this module imports no model, so
`db.connection` can import it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import peewee

from core.owners import OPEN
from db.batch import CLAIM, finish_in_one_statement, insert_sql
from db.lifecycle import Status, check

CHANNEL = "inference_job_finished"  # PostgreSQL's channel for finished jobs (`db.events`)

SELECT_MANY = 'SELECT * FROM "job" WHERE "id" = ANY(%s::uuid[])'  # one fixed text: the ids are one array
NOTIFY = "SELECT pg_notify(%s, job_id) FROM unnest(%s::text[]) AS job_id"


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

    def insert(self, model: Any, jobs: list) -> None:
        """Insert `jobs` (made, not yet saved) in one statement."""
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
        """Inside the transaction that finished `job_ids`: tell the other processes, where there are any."""
        raise NotImplementedError


class SqliteStatements(Statements):
    """The embedded mode's database: peewee's queries, one job at a time where they must be, and no
    announcements beyond this process (there is no other)."""

    def insert(self, model: Any, jobs: list) -> None:
        model.insert_many([job.__data__ for job in jobs]).execute()  # SQLite's JSON is a SQL function: peewee's

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


class PostgresStatements(Statements):
    """Production's database: each hot path one statement whose text is fixed or cached (`db.batch`), its
    values converted by the model's fields; finished jobs announced with `pg_notify`."""

    notifies = True

    def insert(self, model: Any, jobs: list) -> None:
        """One statement: atomic, one round trip; its text is cached (peewee writing it for every POST was a
        large share of a request's CPU), only the values are converted, each by its field."""
        fields = [f for f in model._meta.sorted_fields if any(f.name in job.__data__ for job in jobs)]
        params = [field.db_value(job.__data__.get(field.name)) for job in jobs for field in fields]
        columns = tuple(field.column_name for field in fields)
        self.db.execute_sql(insert_sql(model._meta.table_name, columns, len(jobs)), params)

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
        """Inside the transaction that finished `job_ids`: delivered to listeners when it commits."""
        if job_ids:
            self.db.execute_sql(NOTIFY, (CHANNEL, [str(job_id) for job_id in job_ids]))


DIALECTS: dict[str, type[Statements]] = {  # a database URL's scheme -> its statements
    "sqlite": SqliteStatements,
    "postgres": PostgresStatements,
    "postgresql": PostgresStatements,
}
