"""Persistence: one database handle (a proxy bound at start), the job and its lifecycle, job events and
the migrations. Imports only `core`."""

from db.connection import connect, database
from db.fleet import PreparedModel, WorkerProcess
from db.lifecycle import STATUSES, TERMINAL, UNFINISHED, Failure, Status
from db.models import BaseModel, Job

__all__ = [
    "STATUSES",
    "TERMINAL",
    "UNFINISHED",
    "BaseModel",
    "Failure",
    "Job",
    "PreparedModel",
    "Status",
    "WorkerProcess",
    "connect",
    "database",
]
