"""The job table filled to a given size in one SQL statement (`INSERT ... SELECT generate_series`): a week
of finished jobs, mostly succeeded, those older than a day already purged (tombstones), as a deployment
keeps them; then ANALYZE, so the planner sees the table as it is."""

from __future__ import annotations

import time

from db import database

FILL = """
INSERT INTO job (id, model, task, inputs, parameters, status, output, attempts, created_at, started_at,
                 finished_at, queue_ms, inference_ms, sweeps, owner, awaited, purged_at)
SELECT gen_random_uuid(), %(model)s, 'feature-extraction',
       CASE WHEN t.at < now() - interval '1 day' THEN '[]'::jsonb ELSE '["a short text to embed"]'::jsonb END,
       '{}'::jsonb, CASE WHEN g %% 50 = 0 THEN 'failed' ELSE 'succeeded' END, NULL, 1,
       t.at, t.at + interval '5 ms', t.at + interval '20 ms', 5, 15, 0, 'open', false,
       CASE WHEN t.at < now() - interval '1 day' THEN t.at + interval '1 day' END
FROM generate_series(1, %(rows)s) AS g,
     LATERAL (SELECT (now() at time zone 'utc') - make_interval(secs => (%(rows)s - g) * 604800.0 / %(rows)s)) AS t(at)
"""


def fill(rows: int, model: str) -> float:
    """Insert `rows` finished jobs and analyze the table; returns the seconds it took."""
    started = time.monotonic()
    with database.connection_context():
        database.execute_sql("TRUNCATE job CASCADE")
        if rows:
            database.execute_sql(FILL, {"rows": rows, "model": model})
        database.execute_sql("ANALYZE job")
    return time.monotonic() - started


def table_size() -> dict[str, int]:
    with database.connection_context():
        rows, total = database.execute_sql(
            "SELECT (SELECT count(*) FROM job), pg_total_relation_size('job')"
        ).fetchone()
    return {"rows": rows, "bytes": total}
