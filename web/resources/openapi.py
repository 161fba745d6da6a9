"""GET /openapi.json: the API's description, built once from the configuration it enforces."""

from __future__ import annotations

from typing import Any

import falcon


class OpenAPI:
    def __init__(self, document: dict[str, Any]):
        self.document = document

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.document
