"""Entry module for the `dramatiq` CLI: `dramatiq actors.worker --processes 2 --threads 64` (the Procfile).

Each worker process imports it: configuration is read once from the environment here, the database and
broker are bound, the broker becomes Dramatiq's global one (the CLI consumes from it; the only place that
sets it), `PreloadModels` loads the default model after fork and `ReportLoadedModels` records in the
database, every HEARTBEAT_SECONDS, which models the process has loaded.
"""

import logging

import dramatiq

import db
from actors.registry import Runtimes
from actors.setup import worker_sender
from catalog import Catalog, CatalogError
from core.config import Config, ConfigError
from core.errors import UnknownModel

try:
    config = Config.from_env()
    catalog = Catalog.from_config(config)
    runtimes = Runtimes(catalog, config.models_path, intra_op_threads=config.ort_threads)
    preload = runtimes.preload_names(config.preload_models)
except (ConfigError, CatalogError, UnknownModel) as e:
    raise SystemExit(f"actors.worker: {e}") from None
logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
db.connect(config.database)
broker = worker_sender(
    config.broker_url,
    runtimes,
    preload=preload,
    heartbeat=config.heartbeat_seconds,
    webhook_secret=config.webhook_secret,
    webhook_allow_private=config.webhook_allow_private,
).broker
dramatiq.set_broker(broker)
