"""The job's queries: by id (the hot reads, through the bound dialect's statements), and the sweeper's
and the API's counts and lists."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import peewee

from db.connection import statements
from db.lifecycle import UNFINISHED, Status

if TYPE_CHECKING:
    from db.jobs.model import Job


class Reads:
    """The job's queries (mixed into `db.jobs.Job`)."""

    @classmethod
    def find(cls, job_id, owner: str | None = None) -> Job | None:
        """The job with this id (and this owner, when one is given), or None: `get_or_none` with its SQL
        written once per database, as it is read on every wait and every GET."""
        params = [cls.id.db_value(job_id)] + ([cls.owner.db_value(owner)] if owner is not None else [])
        found = statements.find(cls, params, by_owner=owner is not None)
        return found[0] if found else None

    @classmethod
    def find_many(cls, job_ids: list) -> list[Job]:
        """The jobs with these ids (those that exist), in one statement."""
        return statements.find_many(cls, job_ids)

    @classmethod
    def backlog(cls, model: str) -> int:
        return cls.select().where((cls.model == model) & (cls.status == Status.QUEUED)).count()

    @classmethod
    def queued_count(cls) -> int:
        return cls.select().where(cls.status == Status.QUEUED).count()

    @classmethod
    def leased(cls, now: dt.datetime) -> bool:
        """Whether some job runs under a live lease: some worker is busy with a batch."""
        lease_live = (cls.status == Status.RUNNING) & (cls.lease_expires_at >= now)
        return cls.select(cls.id).where(lease_live).limit(1).exists()

    @classmethod
    def stale(cls, *, queued_before: dt.datetime, now: dt.datetime, limit: int = 1000) -> list[Job]:
        """Jobs that should have moved on by now, oldest first: queued since before `queued_before` (counted
        from the last time the sweeper sent them, if it did), or running with an expired lease (no worker
        renews it: the worker died, or lost its database) and not sent again since `queued_before`."""
        queued_since = peewee.fn.COALESCE(cls.swept_at, cls.created_at)
        lease_over = cls.lease_expires_at.is_null() | (cls.lease_expires_at < now)
        not_just_sent = cls.swept_at.is_null() | (cls.swept_at < queued_before)
        return list(
            cls.select()
            .where(
                ((cls.status == Status.QUEUED) & (queued_since < queued_before))
                | ((cls.status == Status.RUNNING) & lease_over & not_just_sent)
            )
            .order_by(cls.created_at)
            .limit(limit)
        )

    @classmethod
    def unfinished(cls, job_ids: list | None = None) -> list[Job]:
        """Those of `job_ids` (or of all jobs) still queued or running, least attempted first."""
        where = cls.status.in_(sorted(UNFINISHED))
        if job_ids is not None:
            where &= cls.id.in_(job_ids)
        return list(cls.select().where(where).order_by(cls.attempts, cls.created_at))
