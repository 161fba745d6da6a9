"""The small pieces every part of the document is written with: references, bodies, parameters, headers,
and `Operations`, which gives every operation its security (and its 401) as it is written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.schema import char_class

JSON = "application/json"


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def schema(name: str) -> dict[str, str]:
    return ref("schemas", name)


def body(description: str, content: dict[str, Any], media_type: str = JSON) -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": content}}}


def error(description: str, shape: str = "Error") -> dict[str, Any]:
    """An error answer: Falcon's JSON error (`Error`) or, on the /v1 routes, OpenAI's (`OpenAIError`)."""
    return body(description, schema(shape))


def header(description: str, content: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": content}


def retry_after() -> dict[str, Any]:
    return {"Retry-After": header("seconds", {"type": "integer", "minimum": 0}, required=True)}


def rate_limited() -> dict[str, Any]:
    """The headers of a 429: `Retry-After`, and the structured fields of the IETF rate-limit headers draft."""
    text = {"type": "string"}
    return {
        **retry_after(),
        "RateLimit-Policy": header('the limit refused, e.g. `"requests";q=50;w=1` (quota `q` a window of `w` s)', text),
        "RateLimit": header('what is left of it, e.g. `"requests";r=0;t=1` (`r` left, more in `t` s)', text),
    }


def parameter(where: str, name: str, content: dict[str, Any], description: str) -> dict[str, Any]:
    found = {"name": name, "in": where, "description": description, "schema": content}
    return {**found, "required": True} if where == "path" else found


def idempotency_key() -> dict[str, Any]:
    """The `Idempotency-Key` header as `web.admission` takes it: 1 to 255 characters `str.isprintable` takes
    (of Latin-1, as WSGI reads headers)."""
    unprintable = char_class(i for i in range(256) if not chr(i).isprintable())
    return {"type": "string", "minLength": 1, "maxLength": 255, "pattern": f"^[^{unprintable}]*$"}


def idempotency_parameter(description: str) -> dict[str, Any]:
    return parameter("header", "Idempotency-Key", idempotency_key(), description)


@dataclass(frozen=True)
class Operations:
    """Writes operations for one document: with API keys configured, every operation but those of the open
    paths (`web.auth.OPEN_PATHS`, the docs' assets) needs the bearer scheme and may answer 401."""

    secured: bool

    def __call__(
        self,
        operation_id: str,
        summary: str,
        responses: dict[str, Any],
        *,
        open_route: bool = False,
        unauthorized: str = "Unauthorized",
        **more: Any,
    ) -> dict[str, Any]:
        """The operation; `unauthorized` names the 401 answer (`OpenAIUnauthorized` on the /v1 routes)."""
        protected = self.secured and not open_route
        answers = dict(responses)
        if protected:  # an API key's own limits (`web.limits`) answer any of its requests 429
            answers["401"] = ref("responses", unauthorized)
            answers["429"] = ref("responses", unauthorized.replace("Unauthorized", "TooManyRequests"))
        return {
            "summary": summary,
            "operationId": operation_id,
            **more,
            "security": [{"bearer": []}] if protected else [],
            "responses": dict(sorted(answers.items())),
        }
