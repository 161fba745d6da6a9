"""The routes of `/v1/files` and `/v1/batches`, added to the app in one call."""

from __future__ import annotations

import falcon

from web.bulk.batches import Batches
from web.bulk.files import Files
from web.embeddings import EmbeddingsSchema
from web.prepared import PreparedModels
from web.request import RequestSchema
from web.validation import Limits


def add_routes(
    app: falcon.App, schema: RequestSchema, embeddings: EmbeddingsSchema, limits: Limits, prepared: PreparedModels
) -> None:
    files = Files()
    app.add_route("/v1/files", files)
    app.add_route("/v1/files/{file_id}", files, suffix="file")
    app.add_route("/v1/files/{file_id}/content", files, suffix="content")
    batches = Batches(schema, embeddings, limits, prepared)
    app.add_route("/v1/batches", batches)
    app.add_route("/v1/batches/{batch_id}", batches, suffix="batch")
    app.add_route("/v1/batches/{batch_id}/cancel", batches, suffix="cancel")
