"""Persistence: one database handle (a proxy bound at start), the models and their migrations.

Imports neither `actors` nor `web`.
"""

from db.connection import connect, database
from db.models import TERMINAL, BaseModel, Job, Status

__all__ = ["TERMINAL", "BaseModel", "Job", "Status", "connect", "database"]
