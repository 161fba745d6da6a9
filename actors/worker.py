"""Entry module for the `dramatiq` CLI: `dramatiq actors.worker --processes 2 --threads 2`.

Each worker process imports it: configuration is read once from the environment here, the database
and broker are bound, and the default model is loaded after fork by `PreloadModels`.
"""

import logging

import db
from actors import setup
from actors.catalog import Catalog, CatalogError
from actors.registry import Runtimes
from inference_api.config import Config, ConfigError
from inference_api.errors import UnknownModel

try:
    config = Config.from_env()
    catalog = Catalog.from_config(config)
    runtimes = Runtimes(catalog, config.models_path, intra_op_threads=config.ort_threads)
    preload = runtimes.preload_names(config.preload_models)
except (ConfigError, CatalogError, UnknownModel) as e:
    raise SystemExit(f"actors.worker: {e}") from None
logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
db.connect(config.database)
broker = setup(config.broker_url, runtimes=runtimes, preload=preload).broker
