"""A batch's statements on PostgreSQL, run by `db.dialects.PostgresStatements`. Its insert: one `INSERT` of
every row, its text written once per shape. Its claim: one fixed `UPDATE ... RETURNING`. Its outcomes,
written in one statement: `UPDATE ... FROM (VALUES ...)`, guarded and fenced like `Job.finish` (only
running jobs move, and only under the claim that ran them: the `attempts` it counted), instead of one
UPDATE a job. With `notify`, the same statement also sends the notifications of the jobs a request waits for
(`awaited`), and none for the others: run on its own (autocommit) it is the whole transaction, one round trip
where BEGIN, UPDATE, NOTIFY and COMMIT took four, and prepared once per connection and batch size, so
PostgreSQL does not plan it again for every batch (`db.prepared`)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

import peewee

from db import prepared
from db.lifecycle import Status, check
from db.vectors import pack

# Both statements find their rows by primary key only: their status guard is written `status || '' = ...`,
# which no index matches. Written `status = ...`, PostgreSQL may choose the index of pending jobs (by status),
# whose entries for 'queued' and 'running' pile up dead with every job that moves on until a vacuum, so a
# claim or a save would visit every job moved since the last one.
#
# A statement that commits without waiting for the disk starts its query string with UNSYNCHRONIZED: one query
# string is one transaction in autocommit, so the setting holds for that statement only, one round trip where
# BEGIN, SET, the statement and COMMIT took four.
UNSYNCHRONIZED = "SET LOCAL synchronous_commit TO OFF;\n"
# A batch's claim (`Job.claim_fresh`): its text is fixed (the ids are one array), so nothing is written per batch.
CLAIM = (
    UNSYNCHRONIZED
    + """UPDATE job SET status = %s, started_at = %s, attempts = 1, swept_at = NULL, lease_expires_at = %s
WHERE id = ANY(%s::uuid[]) AND attempts = 0 AND status || '' = %s
RETURNING *
"""
)
FINISHED = ("status", "output", "vectors", "error", "failure", "finished_at", "queue_ms", "inference_ms")
SQL = """
UPDATE job SET status = v.status, output = v.output::jsonb, vectors = v.vectors::bytea, error = v.error,
    failure = v.failure, finished_at = v.finished_at::timestamp, queue_ms = v.queue_ms::float8,
    inference_ms = v.inference_ms::float8
FROM (VALUES {rows}) AS v(id, attempts, status, output, vectors, error, failure, finished_at, queue_ms,
    inference_ms)
WHERE job.id = v.id::uuid AND job.attempts = v.attempts::int AND job.status || '' = %s
RETURNING {returning}
"""
# A job someone waits for (`awaited`: its request waits, or a GET ?wait marked it, `db.jobs.Job.mark_awaited`) is
# announced with its finished row: its id, a space, then the row as PostgreSQL renders it in JSON (`db.events`),
# so the API hands it to the waiting request without reading it back; a row too long for a notification
# (PostgreSQL takes under 8,000 bytes: about two embeddings of 384 dimensions) by its id alone. A job nobody
# waits for is not announced at all: PostgreSQL serializes every committing transaction that notifies on one
# lock, and a notification nobody listens for is only work for the server. `awaited` is read from the row the
# statement writes: a mark committed first is seen (READ COMMITTED re-reads a row updated meanwhile), and a
# mark that comes later waits for this write and returns the finished row.
ROW_NOTICE = "job.id::text || ' ' || row_to_json(job)::text"
NOTIFY_NOTICE = "pg_notify(%s, CASE WHEN octet_length(notice) < 8000 THEN notice ELSE id::text END)"
NOTICE = f"job.id, CASE WHEN job.awaited THEN {ROW_NOTICE} END AS notice"
NOTIFYING = f"""
WITH done AS ({{update}})
SELECT CASE WHEN notice IS NOT NULL THEN {NOTIFY_NOTICE} END, id FROM done
"""


@functools.lru_cache(maxsize=64)
def insert_sql(table: str, columns: tuple[str, ...], rows: int) -> str:
    """`INSERT INTO table (columns) VALUES (...), ...` for `rows` rows, psycopg2 placeholders."""
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    names = ", ".join(f'"{column}"' for column in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ' + ", ".join([row] * rows)


def finish_in_one_statement(
    db: peewee.Database,
    outcomes: list[tuple[Any, dict]],
    encode_output: Callable[[Any], Any],
    *,
    now: dt.datetime,
    notify: str | None = None,
) -> list:
    """Write `outcomes` (a running job and the fields of its outcome, finished at `now`) on `db`; returns the
    ids written. With `notify` (a channel), each written job a request waits for is announced on it when this
    commits (`NOTIFYING`); a batch with none sends no notification."""
    rows, params = [], []
    for job, fields in outcomes:
        check(fields["status"], {Status.RUNNING})
        values = {**dict.fromkeys(FINISHED), **fields, "finished_at": now, "queue_ms": job.queued_ms()}
        result, vectors = pack(values["output"])
        values["output"], values["vectors"] = encode_output(result), vectors
        rows.append("(" + ", ".join(["%s"] * (2 + len(FINISHED))) + ")")
        params += [str(job.id), job.attempts, *(values[name] for name in FINISHED)]
    update = SQL.format(rows=", ".join(rows), returning="job.id" if notify is None else NOTICE).strip()
    if notify is None:
        cursor = db.execute_sql(update, (*params, Status.RUNNING))
    else:  # its own transaction: prepared once per connection and batch size (`db.prepared`)
        cursor = prepared.execute(db, NOTIFYING.format(update=update), (*params, Status.RUNNING, notify))
    return [row[-1] for row in cursor.fetchall()]
