"""The models under the names older imports use: the job is in `db.jobs`, its webhook deliveries in
`db.webhooks`, what every model shares in `db.base`."""

from db.base import BaseModel, utcnow
from db.jobs import DEFAULT_LEASE, Job
from db.webhooks import WebhookDelivery, record_deliveries

__all__ = ["DEFAULT_LEASE", "BaseModel", "Job", "WebhookDelivery", "record_deliveries", "utcnow"]
