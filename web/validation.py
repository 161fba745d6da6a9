"""Reading request bodies as JSON we take: the media type, the size, well-formed UTF-8 JSON with finite
numbers, the nesting depth, storable text. What the body must hold is `web.request`'s. Every refusal names
what is wrong; nothing here touches the database or the broker, so a refused request leaves no trace."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import reduce
from typing import Any

import falcon

from core.errors import InvalidRequest, PayloadTooLarge
from core.schema import at

MAX_DIGITS = 100  # an integer literal longer than this is no value anything here takes (nor Python's int limit)


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    max_inputs: int
    max_input_chars: int
    max_json_depth: int = 32


class Unreadable:
    """What the parser leaves for a number no JSON value or float stands for; `check_json` refuses it by path.

    NaN, Infinity and -Infinity are no JSON (RFC 8259) though Python's parser takes them: a 400. A literal
    beyond the float range (1e400, which would be infinity) or longer than `MAX_DIGITS` digits is JSON, but
    no value we take: a 422. Either way the body never reaches validation, nor the database (whose JSONB
    refuses NaN: that was a 500)."""

    def __init__(self, literal: str, *, malformed: bool):
        self.literal = literal if len(literal) <= 20 else f"a number of {len(literal)} characters"
        self.malformed = malformed

    def refuse(self, where: str) -> Exception:
        if self.malformed:
            error = falcon.HTTPBadRequest(
                title="Malformed JSON",
                description=f"`{where}` is {self.literal}, which is not JSON: send a finite number",
            )
            error.field = where  # the error serializer shows it
            return error
        return InvalidRequest(f"`{where}` is {self.literal}, beyond any number this API takes", field=where)


def _constant(literal: str) -> Unreadable:
    return Unreadable(literal, malformed=True)


def _float(literal: str) -> float | Unreadable:
    value = float(literal)
    return value if math.isfinite(value) else Unreadable(literal, malformed=False)


def _int(literal: str) -> int | Unreadable:
    return int(literal) if len(literal.lstrip("-")) <= MAX_DIGITS else Unreadable(literal, malformed=False)


def read_json(req: falcon.Request, limits: Limits) -> Any:
    """The body as JSON: 415 unless JSON, 413 over the size limit, 400 unless well-formed UTF-8 JSON."""
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise falcon.HTTPUnsupportedMediaType(
            title="Unsupported media type",
            description=f"send the body as application/json (got {media_type or 'no Content-Type'})",
        )
    if req.content_length is not None and req.content_length > limits.max_body_bytes:
        raise PayloadTooLarge(f"the body is {req.content_length} bytes; the limit is {limits.max_body_bytes}")
    raw = req.bounded_stream.read(limits.max_body_bytes + 1)
    if len(raw) > limits.max_body_bytes:
        raise PayloadTooLarge(f"the body is over the limit of {limits.max_body_bytes} bytes")
    if not raw:
        raise falcon.HTTPBadRequest(title="Empty body", description="send a JSON object")
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_constant, parse_float=_float, parse_int=_int)
    except UnicodeDecodeError as e:
        raise falcon.HTTPBadRequest(title="Invalid UTF-8", description=f"the body is not UTF-8: {e.reason}") from None
    except RecursionError:
        raise falcon.HTTPBadRequest(title="Malformed JSON", description="the JSON is nested too deeply") from None
    except ValueError as e:
        raise falcon.HTTPBadRequest(title="Malformed JSON", description=str(e)) from None
    check_json(body, limits)
    return body


def check_json(body: Any, limits: Limits) -> None:
    """422 for JSON that parses but that we do not take: arrays and objects nested deeper than
    `limits.max_json_depth` (`{"inputs": ["a"]}` is 2 deep), or text that is not storable Unicode, U+0000 or
    an unpaired surrogate such as "\ud800" (I-JSON, RFC 7493; PostgreSQL refuses both); and the numbers the
    parser left `Unreadable` (400 or 422). Iterative: any depth."""

    def check_text(text: str, path: tuple) -> None:
        try:
            text.encode("utf-8")
            if "\x00" not in text:
                return
        except UnicodeEncodeError:
            pass
        where = _where(path)
        raise InvalidRequest(f"`{where}` holds U+0000 or an unpaired surrogate (\\ud800 to \\udfff)", field=where)

    level: list[tuple[tuple, Any]] = [((), body)]
    depth = 0
    while level:
        children: list[tuple[tuple, Any]] = []
        for path, node in level:
            if isinstance(node, dict):
                for key, child in node.items():
                    check_text(key, path)
                    children.append(((*path, key), child))
            elif isinstance(node, list):
                children += (((*path, index), child) for index, child in enumerate(node))
            elif isinstance(node, str):
                check_text(node, path)
            elif isinstance(node, Unreadable):
                raise node.refuse(_where(path))
        if any(isinstance(node, (dict, list)) for _, node in level):
            depth += 1
            if depth > limits.max_json_depth:
                raise InvalidRequest(
                    f"the JSON nests arrays and objects deeper than the limit of {limits.max_json_depth} levels",
                    field="body",
                )
        level = children


def _where(path: tuple) -> str:
    """A path as a field name: ("inputs", 1) is `inputs[1]`; the empty path is the body."""
    return reduce(at, path, "") or "body"
