"""A batch's statements on PostgreSQL. Its claim: one fixed `UPDATE ... RETURNING`. Its outcomes, written in
one statement: `UPDATE ... FROM (VALUES ...)`, guarded like `Job.finish` (only running jobs move), instead
of one UPDATE a job. With `notify`, the same statement also sends the jobs' notifications: run on its own
(autocommit) it is the whole transaction, one round trip where BEGIN, UPDATE, NOTIFY and COMMIT took four."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from db.base import ms, utcnow
from db.connection import database
from db.lifecycle import Status, check
from db.prepared import Prepared
from db.vectors import pack

# Both statements find their rows by primary key only: their status guard is written `status || '' = ...`,
# which no index matches. Written `status = ...`, PostgreSQL chose the status index, whose entries for
# 'queued' and 'running' pile up dead with every job that moves on until a vacuum: 25,000 jobs after the
# last one, a claim of 32 visited 24,000 index entries and 1,100 pages (4.7 ms, by primary key 1.0 ms)
# and their save as many (10.3 ms, by primary key 4.0 ms). Both are prepared (`db.prepared`).
#
# A batch's claim (`Job.claim_fresh`): run after `SET LOCAL synchronous_commit TO OFF` in one query string,
# one transaction in autocommit, so the setting holds for this UPDATE only: one round trip where BEGIN,
# SET, UPDATE and COMMIT took four. Its plan is the generic one (`plan_cache_mode`, set the same way):
# PostgreSQL otherwise planned it anew on every call, its estimate for an array of ids being no better.
CLAIM = Prepared(
    "job_claim",
    ("text", "timestamp", "timestamp", "text[]", "text"),  # ids as text: psycopg2 sends a list as text[]
    """UPDATE job SET status = $1, started_at = $2, attempts = 1, swept_at = NULL, lease_expires_at = $3
WHERE id = ANY($4::uuid[]) AND attempts = 0 AND status || '' = $5
RETURNING *""",
)
FINISHED = ("status", "output", "vectors", "error", "failure", "finished_at", "queue_ms", "inference_ms")
TYPES = ("uuid", "text", "jsonb", "bytea", "text", "text", "timestamp", "float8", "float8")  # id, then FINISHED
SQL = """UPDATE job SET status = v.status, output = v.output, vectors = v.vectors, error = v.error,
    failure = v.failure, finished_at = v.finished_at, queue_ms = v.queue_ms, inference_ms = v.inference_ms
FROM (VALUES {rows}) AS v(id, status, output, vectors, error, failure, finished_at, queue_ms, inference_ms)
WHERE job.id = v.id AND job.status || '' = {status}
RETURNING job.id"""
NOTIFYING = "WITH done AS ({update}) SELECT pg_notify({channel}, done.id::text), done.id FROM done"


@functools.lru_cache(maxsize=128)
def finishing(rows: int, notify: bool) -> Prepared:
    """The save of `rows` outcomes (announcing them when `notify`): one prepared statement per shape."""
    width = len(TYPES)
    values = ", ".join("(" + ", ".join(f"${row * width + i}" for i in range(1, width + 1)) + ")" for row in range(rows))
    statement, types = SQL.format(rows=values, status=f"${rows * width + 1}"), (*TYPES * rows, "text")
    if notify:
        statement, types = NOTIFYING.format(update=statement, channel=f"${rows * width + 2}"), (*types, "text")
    return Prepared(f"job_finish_{'notify_' if notify else ''}{rows}", types, statement)


def finish_in_one_statement(
    outcomes: list[tuple[Any, dict]], encode_output: Callable[[Any], Any], *, notify: str | None = None
) -> list:
    """Write `outcomes` (a running job and the fields of its outcome); returns the ids written. With
    `notify` (a channel), a notification carrying each written id is sent on it when this commits."""
    now = utcnow()
    params: list = []
    for job, fields in outcomes:
        check(fields["status"], {Status.RUNNING})
        queue_ms = ms(job.created_at, job.started_at) if job.started_at is not None else None
        values = {**dict.fromkeys(FINISHED), **fields, "finished_at": now, "queue_ms": queue_ms}
        result, vectors = pack(values["output"])
        values["output"], values["vectors"] = encode_output(result), vectors
        params += [str(job.id), *(values[name] for name in FINISHED)]
    params.append(Status.RUNNING)
    if notify is not None:
        params.append(notify)
    cursor = database.execute_sql(finishing(len(outcomes), notify is not None).text(), params)
    return [row[-1] for row in cursor.fetchall()]
