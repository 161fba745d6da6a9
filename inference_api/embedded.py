"""The embedded mode: API and worker in one process, SQLite and the in-process StubBroker.

Nothing to install: migrations are applied and the default model is prepared on first start.
"""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
from dataclasses import dataclass

import dramatiq

from actors.registry import Runtimes
from actors.sending import Sender
from actors.setup import WorkerSettings, worker_sender
from actors.sweeper import Sweeper
from catalog import Catalog, prepared
from core.config import Config
from db import Job, database, migrate
from db.bulk.lane import owners_of
from db.retention import Purger

logger = logging.getLogger(__name__)


@dataclass
class Embedded:
    sender: Sender
    worker: dramatiq.Worker
    sweeper: Sweeper
    purger: Purger

    def stop(self) -> None:
        self.sweeper.stopping.set()
        self.purger.stopping.set()
        self.worker.stop(timeout=30_000)  # in-flight batches finish; the rest is re-sent at next start


def start(config: Config, catalog: Catalog) -> Embedded:
    """Bring the embedded mode up; the caller serves the API and calls `stop()` at exit."""
    applied = migrate.apply()
    if applied:
        logger.info("applied migrations: %s", ", ".join(applied))
    if not prepared(config.models_path, catalog.default):
        prepare_in_subprocess(catalog.default)
    runtimes = Runtimes(catalog, config.models_path, intra_op_threads=config.ort_threads)
    sender = worker_sender(WorkerSettings.from_config(config, runtimes), runtimes)
    sender.broker.emit_after("process_boot")  # as the dramatiq CLI does: starts the actor's time limit
    worker = dramatiq.Worker(sender.broker, worker_threads=config.worker_threads, worker_timeout=100)
    worker.start()
    resend_unfinished(sender)
    sweeper = Sweeper(
        sender,
        every=config.sweep_every,
        queued_after=dt.timedelta(seconds=config.sweep_after),
        max_sweeps=config.sweep_max,
    )
    sweeper.start()
    purger = Purger(every=config.purge_every, ttl=config.result_ttl)
    purger.start()
    return Embedded(sender, worker, sweeper, purger)


def prepare_in_subprocess(name: str) -> None:
    """Export in a child process: torch (large and slow to import) stays out of the serving process."""
    print(f"First start: preparing model {name} (a one-time ONNX export)...", file=sys.stderr, flush=True)
    done = subprocess.run([sys.executable, "-m", "inference_api", "models", "prepare", name], check=False)
    if done.returncode != 0:
        raise SystemExit(f"could not prepare model {name} (exit {done.returncode}); see the messages above")


def resend_unfinished(sender: Sender) -> int:
    """The StubBroker's queue lives in memory: jobs accepted before a restart are sent again."""
    with database.connection_context():
        jobs = Job.unfinished()
        owners = owners_of([job.id for job in jobs])  # a batch's lines go back to the bulk lane
        for job in jobs:
            sender.resend(job, bulk_owner=owners.get(str(job.id)))
    if jobs:
        logger.info("re-sent %d unfinished job(s) from before the restart", len(jobs))
    return len(jobs)
