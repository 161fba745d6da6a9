"""`create_app(config)`: the Falcon WSGI application, with no side effects.

It starts no thread and replaces no global: the serving command starts the job-events relay
(`db.events.listen`) and owns the process; a test can build as many apps as it likes.
"""

from __future__ import annotations

import falcon

from actors.sending import Sender, sender_for
from catalog import Catalog
from catalog.tokens import TokenCounter
from core import __version__
from core.config import Config
from db.base import dumps
from web import errors, openapi
from web.admission import Backlog
from web.auth import BearerAuth
from web.bulk.routes import add_routes as add_bulk_routes
from web.embeddings import EmbeddingsSchema
from web.intake import Intake
from web.limits import KeyLimits, Policy, RequestRate
from web.metrics import BuildInfo, Metrics, QueueDepth, RequestMetrics
from web.middleware import DatabaseConnection
from web.prepared import PreparedModels
from web.request import RequestSchema
from web.resources import openai
from web.resources.docs import DocsAsset, DocsPage
from web.resources.health import Health, Ready
from web.resources.inference import InferenceCancel, InferenceCollection, InferenceItem
from web.resources.models import ModelCollection, ModelItem, Readiness
from web.resources.openapi import OpenAPI
from web.resources.webhook_secret import WebhookSecret
from web.validation import Limits
from web.waiting import Waiter
from web.webhooks import WebhookPolicy


def create_app(
    config: Config, *, sender: Sender | None = None, catalog: Catalog | None = None, tokens: TokenCounter | None = None
) -> falcon.App:
    """Build the API. `sender` and `catalog` default to what `config` describes; the embedded mode
    passes the ones its in-process worker shares. The database must already be bound (`db.connect`).

    The API reads no model files: `GET /models` answers from the database (a model is taken as prepared
    also when its manifest is on this host's disk, as in the embedded mode). `tokens` is given only where
    the models are at hand (the embedded mode): then `truncate: false` on a too-long input is a 422 at
    once; without it the worker refuses such an input and fails the job with the reason."""
    catalog = catalog or Catalog.from_config(config)
    sender = sender or sender_for(config)
    limits = Limits(
        config.max_body_bytes,
        config.max_inputs,
        config.max_input_chars,
        config.max_json_depth,
        config.max_json_nodes,
        config.max_generated_tokens,
    )
    webhooks = WebhookPolicy(enabled=bool(config.webhook_secret), allow_private=config.webhook_allow_private)
    # validate POST /inference and POST /v1/embeddings, and are what /openapi.json states of them
    schema = RequestSchema(catalog, limits, extra=webhooks.schema_fields())
    embeddings = EmbeddingsSchema(catalog, limits)
    # no keys: open (the embedded default), one tenant, no per-key limits
    keys = KeyLimits(config.api_keys, Policy(config.key_rps, config.key_backlog, config.key_waits))
    middleware = [BearerAuth(config.api_keys), RequestRate(keys)] if config.api_keys else []
    keys = keys if config.api_keys else None

    app = falcon.App(middleware=[RequestMetrics(), *middleware, DatabaseConnection()])
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = falcon.media.JSONHandler(dumps=dumps)
    app.req_options.strip_url_path_trailing_slash = True
    errors.install(app)
    waiter = Waiter(max_waiters=max(1, config.web_threads - 2), keys=keys)  # two threads always left for new work
    prepared = PreparedModels(config.models_path)  # recorded in the database, or on disk here (embedded)
    intake = Intake(
        sender, Backlog(config.max_backlog), prepared, keys=keys, publish_timeout=config.broker_send_timeout
    )
    app.add_route("/inference", InferenceCollection(schema, limits, tokens, intake, waiter, Readiness(), webhooks))
    app.add_route("/inference/{job_id}", InferenceItem(waiter, sender))
    app.add_route("/inference/{job_id}/cancel", InferenceCancel(sender))
    app.add_route("/webhooks/secret", WebhookSecret(config.webhook_secret, keyed=bool(config.api_keys)))
    app.add_route("/models", ModelCollection(catalog))
    app.add_route("/models/{name}", ModelItem(catalog))
    app.add_route("/healthz", Health())
    app.add_route("/readyz", Ready(sender))
    app.add_route("/v1/embeddings", openai.Embeddings(embeddings, limits, intake, waiter))
    openai_models = openai.Models(catalog, prepared)
    app.add_route("/v1/models", openai_models)
    app.add_route("/v1/models/{model}", openai_models, suffix="model")
    add_bulk_routes(app, schema, embeddings, limits, prepared)  # /v1/files and /v1/batches
    app.add_route("/openapi.json", OpenAPI(openapi.document(config, catalog, schema, embeddings)))
    app.add_route("/docs", DocsPage())
    app.add_route("/docs/{asset}", DocsAsset())
    if not config.metrics_port:  # else on a port of its own (`create_metrics_app`): 404 here
        app.add_route("/metrics", _metrics(config, sender))
    return app


def create_metrics_app(config: Config, sender: Sender) -> falcon.App:
    """`/metrics` alone, for METRICS_PORT: Prometheus scrapes a port the API's clients need not reach."""
    app = falcon.App()
    app.add_route("/metrics", _metrics(config, sender))
    return app


def _metrics(config: Config, sender: Sender) -> Metrics:
    return Metrics(QueueDepth(sender.queue_depths), BuildInfo(__version__, config.build_commit))
