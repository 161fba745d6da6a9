"""The job: one POST /inference, its inputs, its status and, once finished, its output.

`model` holds its fields, `moves` its lifecycle (every status change, guarded by `db.lifecycle`), `reads`
its queries and `rows` how a row read by hand becomes a job. What differs by database is not here but in
the statements `db.connect` chose (`db.dialects`).
"""

from db.jobs.model import Job
from db.jobs.moves import DEFAULT_LEASE

__all__ = ["DEFAULT_LEASE", "Job"]
