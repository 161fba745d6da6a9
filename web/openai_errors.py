"""Errors on the OpenAI-compatible routes (`/v1/...`) in OpenAI's shape, with the API's usual statuses.

`{"error": {"message", "type", "param", "code"}}` is what the official clients read: the `openai` package
raises its `BadRequestError`, `AuthenticationError`, `RateLimitError`, ... from the status and shows the
message. The error serializer (`web.errors`) picks this shape by path, so every error on these routes has
it, Falcon's own (401 from the key middleware, 404 no such route, 415, 400 malformed JSON) included.
"""

from __future__ import annotations

from typing import Any

import falcon

PREFIX = "/v1/"

# OpenAI's error types by status: every client error is an "invalid_request_error" but for these.
_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}
# A code when the raiser gave none: machine-readable, as OpenAI's (`invalid_api_key`, `model_not_found`).
_CODES = {
    401: "invalid_api_key",
    404: "not_found",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "rate_limit_exceeded",
    503: "service_unavailable",
}


def applies(req: falcon.Request) -> bool:
    return req.path.startswith(PREFIX)


def body(exception: falcon.HTTPError, message: str) -> dict[str, Any]:
    status = exception.status_code
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {
        "error": {
            "message": message,
            "type": kind,
            "param": getattr(exception, "field", None),
            "code": exception.code or _CODES.get(status),
        }
    }


def invalid(message: str, param: str | None, *, code: str | None = None) -> falcon.HTTPError:
    """A 422 on the field `param`, as `web.errors` maps `InvalidRequest`, with an OpenAI `code`."""
    error = falcon.HTTPUnprocessableEntity(title="Invalid request", description=message, code=code)
    error.field = param
    return error
