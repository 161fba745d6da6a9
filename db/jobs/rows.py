"""How a row read by hand becomes a job: the rows of the statements `db.dialects` runs itself (a cursor's
`SELECT *` or `RETURNING *`), and the row PostgreSQL renders in JSON for a finished job's notification.

Built here because peewee's `raw` works out anew, for every query, which field each column belongs to:
most of the CPU of reading one job. Each value is still converted by its field, as a peewee query would.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

import peewee

if TYPE_CHECKING:
    from db.jobs.model import Job


def _same(value: Any) -> Any:
    return value


# How `row_to_json` writes the values that JSON has no type for; numbers, text and JSON columns come as a
# read gives them.
_FROM_JSON = {
    peewee.UUIDField: uuid.UUID,
    peewee.DateTimeField: dt.datetime.fromisoformat,  # "2026-11-27T04:33:00.123456", no zone: UTC, as stored
    peewee.BlobField: lambda text: bytes.fromhex(text.removeprefix("\\x")),  # bytea: "\\x" and hex digits
}


class Rows:
    """The job's constructors from rows (mixed into `db.jobs.Job`)."""

    @classmethod
    def from_cursor(cls, cursor) -> list[Job]:
        """The jobs of the rows a cursor returns (every column), each value converted by its field; a
        column this code has no field for (a migration ahead of it, in a rolling upgrade) is left out."""
        fields = [cls._meta.columns.get(column[0]) for column in cursor.description]
        jobs = []
        for row in cursor.fetchall():
            job = cls(__no_default__=True)
            job.__data__ = {
                f.name: v if v is None else f.python_value(v) for f, v in zip(fields, row, strict=True) if f is not None
            }
            jobs.append(job)
        return jobs

    @classmethod
    def from_row_json(cls, row: dict) -> Job:
        """The job whose row PostgreSQL rendered in JSON (`row_to_json`, as a finished batch's notifications
        carry it), with the values a read of that row gives (a bytea as bytes, where psycopg2 gives a
        memoryview of them). A column missing from `row` is a KeyError: a row of another schema is read
        instead, never half taken."""
        job = cls(__no_default__=True)
        for field in cls._meta.sorted_fields:
            value = row[field.column_name]
            job.__data__[field.name] = value if value is None else _FROM_JSON.get(type(field), _same)(value)
        return job
