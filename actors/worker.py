"""Entry module for the `dramatiq` CLI: `dramatiq actors.worker --processes 2 --threads 8` (the Procfile).

Each worker process imports it: configuration is read once from the environment here, logging is set up,
the database and broker are bound, the broker becomes Dramatiq's global one (the CLI consumes from it; the
only place that sets it), `PreloadModels` loads the default model after fork, `ReportLoadedModels` records
in the database which models the process has loaded (every HEARTBEAT_SECONDS: `GET /models` says `ready`)
and the `LivenessBeat` touches a file that `inference-api worker-alive` checks (the Kubernetes probe).

Metrics: prometheus-client's multiprocess mode is turned on (in Dramatiq's metrics directory,
`dramatiq_prom_db`) before anything imports prometheus-client, so the exposition server Dramatiq's
middleware forks from the CLI's main process (port `dramatiq_prom_port`, 9191) serves every process' sum.
"""

import os

from dramatiq.middleware.prometheus import DB_PATH

os.environ["PROMETHEUS_MULTIPROC_DIR"] = DB_PATH  # where Dramatiq's exposition server reads

import dramatiq

import db
from actors.liveness import LivenessBeat
from actors.registry import Runtimes
from actors.setup import WorkerSettings, worker_sender
from catalog import Catalog, CatalogError
from core import logs
from core.config import Config, ConfigError
from core.errors import UnknownModel

try:
    config = Config.from_env()
    catalog = Catalog.from_config(config)
    runtimes = Runtimes(catalog, config.models_path, intra_op_threads=config.ort_threads)
    settings = WorkerSettings.from_config(config, runtimes)
except (ConfigError, CatalogError, UnknownModel) as e:
    raise SystemExit(f"actors.worker: {e}") from None
logs.configure(config.log_level, config.log_format)
# Inference is throughput work: on a host it shares with the API, PostgreSQL or RabbitMQ, those answer
# first (a POST under full worker load answers sooner). Alone on a host it changes nothing.
os.nice(config.worker_nice)
db.connect(config.database, statement_timeout_ms=config.statement_timeout_ms)
broker = worker_sender(settings, runtimes).broker
broker.add_middleware(LivenessBeat(config.worker_heartbeat_dir, stall_seconds=config.stall_seconds))
dramatiq.set_broker(broker)
