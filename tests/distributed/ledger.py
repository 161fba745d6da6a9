"""The honest check at the end of a fault test: a trigger counts every time a job's result is written (a
terminal status set, or a finished job's output or finished_at changed), so a result saved twice is seen even
when the second write is identical; then every accepted job must have succeeded, its result saved once.
The API's own mark of a job whose message never reached the broker (`failure = 'not_enqueued'`, undone by
the client's replay) is bookkeeping before the job ran, not a result, and is not counted."""

from __future__ import annotations

from dataclasses import dataclass, field

TRIGGER = [
    "CREATE TABLE IF NOT EXISTS bed_saves (job_id uuid, status text, at timestamptz DEFAULT clock_timestamp())",
    """CREATE OR REPLACE FUNCTION bed_count_save() RETURNS trigger AS $$ BEGIN
      IF NEW.status IN ('succeeded', 'failed', 'canceled') AND NEW.failure IS DISTINCT FROM 'not_enqueued' AND (
         OLD.status IS DISTINCT FROM NEW.status OR OLD.finished_at IS DISTINCT FROM NEW.finished_at
         OR OLD.output::text IS DISTINCT FROM NEW.output::text OR OLD.vectors IS DISTINCT FROM NEW.vectors) THEN
        INSERT INTO bed_saves (job_id, status) VALUES (NEW.id, NEW.status);
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS bed_count_save ON job",
    "CREATE TRIGGER bed_count_save AFTER UPDATE ON job FOR EACH ROW EXECUTE FUNCTION bed_count_save()",
]


@dataclass
class Ledger:
    accepted: int = 0
    succeeded: int = 0
    failed: dict[str, int] = field(default_factory=dict)  # reason -> jobs
    lost: int = 0  # accepted, but no row (a commit the failover lost)
    stuck: int = 0  # queued or running at the end
    saved_twice: int = 0  # results written more than once
    never_saved: int = 0  # terminal without a counted save
    extra_attempts: int = 0  # re-executions (normal after a fault, reported)

    @property
    def clean(self) -> bool:
        good = self.succeeded == self.accepted and not self.failed
        return good and not (self.lost or self.stuck or self.saved_twice or self.never_saved)


def install(pg, database: str) -> None:
    pg.sql(database, *TRIGGER)


def unfinished(pg, database: str, ids: list[str]) -> int:
    if not ids:
        return 0
    rows = pg.sql(
        database,
        f"SELECT count(*) FROM job WHERE id IN ({_quoted(ids)}) AND status IN ('succeeded', 'failed', 'canceled')",
    )
    return len(set(ids)) - rows[0][0]


def finished_at(pg, database: str) -> list[float]:
    """When each job's result was saved (epoch seconds), in order."""
    return [row[0] for row in pg.sql(database, "SELECT extract(epoch FROM at)::float FROM bed_saves ORDER BY at")]


def settle(pg, database: str, ids: list[str]) -> Ledger:
    ledger = Ledger(accepted=len(set(ids)))
    rows = pg.sql(
        database,
        "SELECT j.id::text, j.status, coalesce(j.error, ''), j.attempts, "
        "(SELECT count(*) FROM bed_saves s WHERE s.job_id = j.id) "
        f"FROM job j WHERE j.id IN ({_quoted(ids)})",
    )
    ledger.lost = ledger.accepted - len(rows)
    for _, status, error, attempts, saves in rows:
        ledger.extra_attempts += max(0, attempts - 1)
        if status == "succeeded":
            ledger.succeeded += 1
        elif status == "failed":
            ledger.failed[error[:80]] = ledger.failed.get(error[:80], 0) + 1
        elif status in ("queued", "running"):
            ledger.stuck += 1
        if status in ("succeeded", "failed", "canceled"):
            ledger.saved_twice += saves > 1
            ledger.never_saved += saves == 0
    return ledger


def _quoted(ids: list[str]) -> str:
    return ",".join(f"'{i}'" for i in set(ids))
