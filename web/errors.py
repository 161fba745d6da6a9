"""Domain errors mapped to HTTP in one place. Bodies are Falcon's JSON error (`title`, `description`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import falcon
import peewee
from playhouse.pool import MaxConnectionsExceeded

from core.errors import (
    Conflict,
    InferenceError,
    InvalidRequest,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    Unavailable,
)
from web import openai_errors

logger = logging.getLogger(__name__)


class JobGone(InferenceError):
    """A job whose inputs and output were deleted by its owner or purged after RESULT_TTL: 410 Gone, so
    that a client (and any HTTP tool) tells it from a job that never existed (404) and stops asking."""

    title = "Gone"


def _unprocessable(ex: InvalidRequest) -> falcon.HTTPError:
    error = falcon.HTTPUnprocessableEntity(title=ex.title, description=ex.description, code=getattr(ex, "code", None))
    error.field = ex.field
    return error


def _unexpected(ex: InferenceError) -> falcon.HTTPError:
    logger.error("unmapped domain error: %r", ex)
    return falcon.HTTPInternalServerError(title=ex.title, description=ex.description)


# Each domain error to its HTTP error; Falcon picks the handler of the closest class in the exception's MRO,
# so a subclass (PayloadTooLarge, Overloaded) is mapped before its base whatever the order here.
HTTP_ERRORS: dict[type[InferenceError], Callable[[Any], falcon.HTTPError]] = {
    InferenceError: _unexpected,
    InvalidRequest: _unprocessable,
    PayloadTooLarge: lambda ex: falcon.HTTPContentTooLarge(title=ex.title, description=ex.description),
    NotFound: lambda ex: falcon.HTTPNotFound(title=ex.title, description=ex.description),
    JobGone: lambda ex: falcon.HTTPGone(title=ex.title, description=ex.description),
    Conflict: lambda ex: falcon.HTTPConflict(title=ex.title, description=ex.description),
    Unavailable: lambda ex: falcon.HTTPServiceUnavailable(
        title=ex.title, description=ex.description, retry_after=ex.retry_after
    ),
    Overloaded: lambda ex: falcon.HTTPTooManyRequests(
        title=ex.title, description=ex.description, retry_after=ex.retry_after, headers=getattr(ex, "headers", None)
    ),
}


def _raising(to_http: Callable[[Any], falcon.HTTPError]):
    def handle(req, resp, ex, params):
        if type(ex) is Unavailable:  # raised by the sending side only: counted as a refusal by the broker
            req.context.refused_by = "broker"
        elif getattr(ex, "reason", None):  # a per-key limit (`web.limits.RateLimited`): counted by its reason
            req.context.refused_by = ex.reason
        raise to_http(ex)

    return handle


# What the database driver and the pool raise when the database is unreachable or refuses: a 503, unless
# the job is accepted already (then it is answered 202 as it stands, `web.resources.inference`).
DATABASE_ERRORS = (peewee.OperationalError, peewee.InterfaceError, MaxConnectionsExceeded)


def handle_database_error(req, resp, ex, params):
    logger.warning("database unavailable during %s %s: %s", req.method, req.path, type(ex).__name__)
    logger.debug("the database's error: %s", ex)  # a driver's text may quote the statement's values
    req.context.refused_by = "database"
    raise falcon.HTTPServiceUnavailable(
        title="Service unavailable", description="the database is unavailable", retry_after=5
    )


def install(app: falcon.App) -> None:
    for kind, to_http in HTTP_ERRORS.items():
        app.add_error_handler(kind, _raising(to_http))
    app.add_error_handler(DATABASE_ERRORS, handle_database_error)
    app.set_error_serializer(_serialize)


def _serialize(req, resp, exception: falcon.HTTPError) -> None:
    if openai_errors.applies(req):  # the OpenAI-compatible routes answer in OpenAI's error shape
        resp.media = openai_errors.body(exception, exception.description or _describe(req, exception))
        resp.content_type = falcon.MEDIA_JSON
        return
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
        return "no such route (the routes are in GET /openapi.json, to try at GET /docs)"
    if isinstance(exception, falcon.HTTPMethodNotAllowed):
        return f"{req.method} is not allowed here; allowed: {(exception.headers or {}).get('Allow', 'none')}"
    return exception.title or "error"
