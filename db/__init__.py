"""Persistence: one database handle (a proxy bound at start), the job and its lifecycle, job events and
the migrations. Imports only `core`."""

from db.base import BaseModel
from db.connection import connect, database
from db.fleet import PreparedModel, WorkerProcess
from db.jobs import Job
from db.lifecycle import STATUSES, TERMINAL, UNFINISHED, Failure, Status
from db.webhooks import WebhookDelivery

__all__ = [
    "STATUSES",
    "TERMINAL",
    "UNFINISHED",
    "BaseModel",
    "Failure",
    "Job",
    "PreparedModel",
    "Status",
    "WebhookDelivery",
    "WorkerProcess",
    "connect",
    "database",
]
