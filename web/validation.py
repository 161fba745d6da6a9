"""Reading request bodies as JSON we take: the media type, the size, well-formed UTF-8 JSON with finite
numbers, the nesting depth, storable text. What the body must hold is `web.request`'s. Every refusal names
what is wrong; nothing here touches the database or the broker, so a refused request leaves no trace."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import reduce
from typing import Any

import falcon

from core.errors import InvalidRequest, PayloadTooLarge
from core.schema import at

STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')  # a JSON string literal, escapes included
BRACKETS = bytes.maketrans(b"{}", b"[]")  # objects nest as arrays do
NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
MAX_DIGITS = 100  # an integer literal longer than this is no value anything here takes (nor Python's int limit)


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    max_inputs: int
    max_input_chars: int
    max_json_depth: int = 32
    max_json_nodes: int = 10_000
    max_generated_tokens: int = 1280  # text generation: inputs x max_new_tokens a job (`web.request`)


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
    check_shape(raw, limits)
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


def check_shape(raw: bytes, limits: Limits) -> None:
    """Refuse, from the bytes and before the parser builds anything, a body of more values than
    `max_json_nodes` (413) or nested deeper than `max_json_depth` (422): a 1 MiB body of tiny values
    would cost some 24 MiB parsed, and a deep one the parser's recursion. The string literals are taken
    out first, so text holding brackets or commas counts as the one value it is."""
    bare = STRING.sub(b"0", raw)
    brackets = bare.translate(BRACKETS, delete=NOT_BRACKETS)
    for _ in range(limits.max_json_depth):  # each round takes out the innermost arrays and objects
        brackets = brackets.replace(b"[]", b"")
    if b"[]" in brackets:  # an array or object is left that holds more than max_json_depth levels
        raise InvalidRequest(
            f"the JSON nests arrays and objects deeper than the limit of {limits.max_json_depth} levels", field="body"
        )
    if json_nodes(bare) > limits.max_json_nodes:
        raise PayloadTooLarge(
            f"the body holds more than {limits.max_json_nodes} JSON values (MAX_JSON_NODES): send fewer, larger ones"
        )


def json_nodes(bare: bytes) -> int:
    """How many values (object keys included) the JSON text `bare` (its string literals taken out) holds,
    never fewer: every value but the first follows a `,`, a `:` or an opening bracket. Exact for well-formed
    JSON but for one more per empty array or object; malformed JSON is the parser's to refuse."""
    return 1 + sum(bare.count(mark) for mark in (b",", b":", b"[", b"{"))


def check_json(body: Any, limits: Limits) -> None:
    """422 for JSON that parses but that we do not take: arrays and objects nested deeper than
    `limits.max_json_depth` (`{"inputs": ["a"]}` is 2 deep), or text that is not storable Unicode, U+0000 or
    an unpaired surrogate such as "\ud800" (I-JSON, RFC 7493; PostgreSQL refuses both); and the numbers the
    parser left `Unreadable` (400 or 422). Iterative: any depth. The walk keeps no paths: the one of the
    value at fault is found again (`_path_to`) only to name it in the refusal."""
    stack: list[tuple[Any, int]] = [(body, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth + 1 > limits.max_json_depth:
                raise InvalidRequest(
                    f"the JSON nests arrays and objects deeper than the limit of {limits.max_json_depth} levels",
                    field="body",
                )
            for key in node if isinstance(node, dict) else ():
                if not _storable(key):
                    raise _unstorable(_where(_path_to(body, node)))
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
        elif isinstance(node, str):
            if not _storable(node):
                raise _unstorable(_where(_path_to(body, node)))
        elif isinstance(node, Unreadable):
            raise node.refuse(_where(_path_to(body, node)))


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _unstorable(where: str) -> InvalidRequest:
    return InvalidRequest(f"`{where}` holds U+0000 or an unpaired surrogate (\\ud800 to \\udfff)", field=where)


def _path_to(body: Any, target: Any) -> tuple:
    """The path of `target` (by identity) in `body`; a key's own path is its object's, as before."""
    stack: list[tuple[tuple, Any]] = [((), body)]
    while stack:
        path, node = stack.pop()
        if node is target:
            return path
        if isinstance(node, dict):
            stack.extend(((*path, key), child) for key, child in node.items())
        elif isinstance(node, list):
            stack.extend(((*path, index), child) for index, child in enumerate(node))
    return ()


def _where(path: tuple) -> str:
    """A path as a field name: ("inputs", 1) is `inputs[1]`; the empty path is the body."""
    return reduce(at, path, "") or "body"
