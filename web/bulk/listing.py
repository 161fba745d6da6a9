"""OpenAI's cursor pagination (`after`, `limit`; answered with `has_more`, `first_id`, `last_id`), newest
first, for the caller's files and batches alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon

from web.openai_errors import invalid

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def limit_of(req: falcon.Request, default: int = DEFAULT_LIMIT) -> int:
    raw = req.get_param("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise invalid(f"`limit` must be a whole number from 1 to {MAX_LIMIT}", "limit")
    return int(raw)


def page(model, owner: str, req: falcon.Request, view: Callable[[Any], dict], where=None) -> dict[str, Any]:
    """One page of `model`'s rows of `owner`, newest first, after the row whose id is `after`."""
    limit = limit_of(req)
    query = model.select().where(model.owner == owner)
    if where is not None:
        query = query.where(where)
    if after := req.get_param("after"):
        anchor = model.get_or_none((model.id == after) & (model.owner == owner))
        if anchor is None:
            error = falcon.HTTPNotFound(title="Not found", description=f"`after`: no such id {after!r}")
            error.field = "after"
            raise error
        older = (model.created_at < anchor.created_at) | (
            (model.created_at == anchor.created_at) & (model.id < anchor.id)
        )
        query = query.where(older)
    rows = list(query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1))
    data = [view(row) for row in rows[:limit]]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(rows) > limit,
    }
