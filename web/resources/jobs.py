"""GET /inference: the caller's jobs, newest first, filtered by `status` and `model`, a page at a time.

Keyset pagination over (created_at, id), both descending: `after` is an opaque cursor naming the last
job of the previous page, so pages stay stable while new jobs arrive and cost one indexed range scan
(`job_owner_created_at_id`) however deep. The next page's URL is in the body (`next`) and in a `Link`
header (RFC 8288). Inputs and outputs are left out unless `include=inputs,output` asks for them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import uuid
from urllib.parse import urlencode

import falcon

from catalog import Catalog
from core.errors import InvalidRequest
from db import STATUSES, Job
from db.views import job_view
from db.webhooks import WebhookDelivery

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
INCLUDABLE = ("inputs", "output")
MAX_CURSOR = 200  # characters


def list_jobs(req: falcon.Request, resp: falcon.Response, catalog: Catalog, owner: str) -> None:
    status, model = _status(req), _model(req, catalog)
    limit, include, after = _limit(req), _include(req), _cursor(req.get_param("after"))
    where = Job.owner == owner
    if status:
        where &= Job.status == status
    if model:
        where &= Job.model == model
    if after:
        created_at, last_id = after
        where &= (Job.created_at < created_at) | ((Job.created_at == created_at) & (Job.id < last_id))
    query = Job.select(*_columns(include)).where(where).order_by(Job.created_at.desc(), Job.id.desc())
    jobs = list(query.limit(limit + 1))
    page, more = jobs[:limit], len(jobs) > limit
    deliveries = _deliveries([job for job in page if job.webhook])
    next_url = None
    if more:
        query = {"limit": limit, "status": status, "model": model, "include": ",".join(include) or None}
        query["after"] = encode_cursor(page[-1])
        next_url = "/inference?" + urlencode({k: v for k, v in query.items() if v is not None})
        resp.append_link(next_url, "next")
    resp.media = {
        "jobs": [
            job_view(
                job,
                inputs="inputs" in include,
                output="output" in include,
                deliveries=deliveries.get(job.id) if job.webhook else None,
            )
            for job in page
        ],
        "next": next_url,
    }


def encode_cursor(job: Job) -> str:
    raw = json.dumps([job.created_at.isoformat(), str(job.id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(value: str | None) -> tuple[dt.datetime, uuid.UUID] | None:
    """The cursor `after` names; none (absent or empty, as a form with a blank field sends it): the first page."""
    if not value:
        return None
    refused = InvalidRequest("`after` is not a cursor this API gave (use the `next` link)", field="after")
    if len(value) > MAX_CURSOR:  # a cursor we give is about 90 characters; nothing longer is read
        raise refused
    try:
        decoded = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise refused from None
    if not (isinstance(decoded, list) and len(decoded) == 2 and all(isinstance(part, str) for part in decoded)):
        raise refused  # valid JSON of another shape: forged
    try:
        return dt.datetime.fromisoformat(decoded[0]), uuid.UUID(decoded[1])
    except ValueError:
        raise refused from None


def _status(req: falcon.Request) -> str | None:
    status = req.get_param("status")
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"`status` must be one of {', '.join(STATUSES)}", field="status")
    return status


def _model(req: falcon.Request, catalog: Catalog) -> str | None:
    model = req.get_param("model")
    if model is not None and model not in catalog.models:
        known = ", ".join(sorted(catalog.models))
        raise InvalidRequest(f"unknown model {model!r}; available: {known}", field="model")
    return model


def _limit(req: falcon.Request) -> int:
    raw = req.get_param("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"[1-9][0-9]{0,2}", raw) or int(raw) > MAX_LIMIT:
        raise InvalidRequest(f"`limit` must be an integer from 1 to {MAX_LIMIT}", field="limit")
    return int(raw)


def _include(req: falcon.Request) -> list[str]:
    raw = req.get_param("include")
    if raw is None:
        return []
    asked = raw.split(",")
    if not all(part in INCLUDABLE for part in asked):
        raise InvalidRequest(f"`include` takes {', '.join(INCLUDABLE)}, comma-separated", field="include")
    return [part for part in INCLUDABLE if part in asked]


def _columns(include: list[str]) -> list:
    """The columns a page shows: the bulky ones (inputs, parameters, output) only when `include` asks, so a
    page of large jobs costs the memory of what it returns."""
    left_out = {"inputs": (Job.inputs, Job.parameters), "output": (Job.result, Job.vectors)}
    skipped = {field.name for part, fields in left_out.items() if part not in include for field in fields}
    return [field for field in Job._meta.sorted_fields if field.name not in skipped]


def _deliveries(jobs: list[Job]) -> dict:
    """The webhook deliveries of a page's jobs, in one query."""
    found: dict = {job.id: [] for job in jobs}
    if found:
        query = (
            WebhookDelivery.select().where(WebhookDelivery.job.in_(list(found))).order_by(WebhookDelivery.created_at)
        )
        for delivery in query:
            found[delivery.job_id].append(delivery)
    return found
