"""The `webhook` and `webhook_events` fields of POST /inference: where and when a finished job is sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import InvalidRequest
from core.schema import Array, Enum, Schema, String
from core.urls import MAX_URL_LENGTH, check_webhook_url
from db import TERMINAL
from db.lifecycle import STATUSES

EVENTS = tuple(status for status in STATUSES if status in TERMINAL)  # succeeded, failed, canceled


@dataclass(frozen=True)
class Webhook:
    url: str
    events: tuple[str, ...] = EVENTS


@dataclass(frozen=True)
class WebhookPolicy:
    enabled: bool  # a signing secret is configured: nothing is ever delivered unsigned
    allow_private: bool = False

    def schema_fields(self) -> dict[str, Schema]:
        """The request's fields (`web.request.RequestSchema`'s `extra`): none while webhooks are off."""
        if not self.enabled:
            return {}
        schemes = "https or http" if self.allow_private else "https"
        return {
            "webhook": String(
                min_length=1,
                max_length=MAX_URL_LENGTH,
                description=f"POST the finished job here ({schemes}), signed per Standard Webhooks",
            ),
            "webhook_events": Array(
                Enum(EVENTS), min_items=1, description="the statuses to be called for (default: all three)"
            ),
        }

    def refuse_if_off(self, body: Any) -> None:
        """Before the schema (where the fields are unknown while webhooks are off): say why."""
        if not self.enabled and isinstance(body, dict) and "webhook" in body:
            raise InvalidRequest(
                "webhooks are not enabled on this server (it has no WEBHOOK_SECRET to sign them)", field="webhook"
            )

    def parse(self, body: dict[str, Any]) -> Webhook | None:
        """The webhook a request asks for (None: none), or a 422 naming the field at fault. The body has passed
        the request schema, which holds `schema_fields` (their types, lengths and events) while webhooks are on."""
        url, events = body.get("webhook"), body.get("webhook_events")
        if url is None:
            if events is not None:
                raise InvalidRequest("`webhook_events` needs a `webhook`", field="webhook_events")
            return None
        url = check_webhook_url(url, allow_private=self.allow_private)
        chosen = EVENTS if events is None else tuple(event for event in EVENTS if event in events)
        return Webhook(url, chosen)  # in lifecycle order, once each
