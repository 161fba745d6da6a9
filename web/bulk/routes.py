"""The routes of `/v1/files` and `/v1/batches`, added to the app in one call."""

from __future__ import annotations

import falcon

from web.bulk.files import Files
from web.embeddings import EmbeddingsSchema
from web.request import RequestSchema


def add_routes(app: falcon.App, schema: RequestSchema, embeddings: EmbeddingsSchema) -> None:
    files = Files()
    app.add_route("/v1/files", files)
    app.add_route("/v1/files/{file_id}", files, suffix="file")
    app.add_route("/v1/files/{file_id}/content", files, suffix="content")
