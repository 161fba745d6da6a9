"""Domain errors mapped to HTTP in one place. Bodies are Falcon's JSON error (`title`, `description`)."""

from __future__ import annotations

import logging

import falcon
import peewee
from playhouse.pool import MaxConnectionsExceeded

from inference_api.errors import (
    Conflict,
    InferenceError,
    InvalidRequest,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    Unavailable,
)

logger = logging.getLogger(__name__)


def to_http(ex: InferenceError) -> falcon.HTTPError:
    description = ex.description or str(ex)
    if isinstance(ex, PayloadTooLarge):
        return falcon.HTTPContentTooLarge(title=ex.title, description=description)
    if isinstance(ex, InvalidRequest):
        error = falcon.HTTPUnprocessableEntity(title=ex.title, description=description)
        if ex.field:
            error.field = ex.field
        return error
    if isinstance(ex, NotFound):
        return falcon.HTTPNotFound(title=ex.title, description=description)
    if isinstance(ex, Overloaded):
        return falcon.HTTPTooManyRequests(title=ex.title, description=description, retry_after=ex.retry_after)
    if isinstance(ex, Conflict):
        return falcon.HTTPConflict(title=ex.title, description=description)
    if isinstance(ex, Unavailable):
        return falcon.HTTPServiceUnavailable(title=ex.title, description=description, retry_after=ex.retry_after)
    logger.error("unmapped domain error: %r", ex)
    return falcon.HTTPInternalServerError(title=ex.title, description=description)


def handle_domain_error(req, resp, ex, params):
    raise to_http(ex)


def handle_database_error(req, resp, ex, params):
    logger.warning("database unavailable during %s %s: %s", req.method, req.path, ex)
    raise falcon.HTTPServiceUnavailable(
        title="Service unavailable", description="the database is unavailable", retry_after=5
    )


def install(app: falcon.App) -> None:
    app.add_error_handler(InferenceError, handle_domain_error)
    app.add_error_handler(
        (peewee.OperationalError, peewee.InterfaceError, MaxConnectionsExceeded), handle_database_error
    )
    app.set_error_serializer(_serialize)


def _serialize(req, resp, exception: falcon.HTTPError) -> None:
    body = exception.to_dict()
    if "description" not in body:  # Falcon's own routing errors come with a title only
        body["description"] = _describe(req, exception)
    field = getattr(exception, "field", None)
    if field:
        body["field"] = field
    resp.media = body
    resp.content_type = falcon.MEDIA_JSON


def _describe(req, exception: falcon.HTTPError) -> str:
    if isinstance(exception, falcon.HTTPNotFound):
        return "no such route (the routes are in GET /openapi.json)"
    if isinstance(exception, falcon.HTTPMethodNotAllowed):
        return f"{req.method} is not allowed here; allowed: {(exception.headers or {}).get('Allow', 'none')}"
    return exception.title or "error"
