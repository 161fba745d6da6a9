"""The `inference-api` command: serve, migrate, sweep, purge, models prepare, worker-alive, and the client's
submit. A composition root."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core import __version__, logs
from core.config import Config, ConfigError
from core.errors import InferenceError
from inference_api.commands import cmd_migrate, cmd_prepare, cmd_purge, cmd_sweep, cmd_worker_alive
from inference_api.serve import cmd_serve


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["submit"]:  # the client's command, from the inference-api-client package (./client)
        return submit(argv)
    parser = argparse.ArgumentParser(prog="inference-api", description="Asynchronous ONNX inference over HTTP.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="serve the API (embedded mode: with an in-process worker)",
        description="Serve the HTTP API. Without BROKER_URL and DATABASE_URL it runs embedded: a SQLite file in "
        "DATA_DIR, an in-process broker and worker, migrations applied and the default model prepared on first "
        "start. With them, it serves the API only; workers run `dramatiq actors.worker`.",
    )
    serve.add_argument("--host", help="interface to bind (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: PORT or 8000)")
    serve.set_defaults(run=cmd_serve)

    migrate = commands.add_parser(
        "migrate",
        help="apply pending database migrations",
        description="Apply the pending migrations to the database of DATABASE_URL (or the embedded SQLite file), "
        "then exit. Run it before a new version's web and workers start (the Procfile's release).",
    )
    migrate.set_defaults(run=cmd_migrate)

    sweep = commands.add_parser(
        "sweep",
        help="send again jobs left queued or running too long (a CronJob)",
        description="Send again the jobs left queued longer than SWEEP_AFTER (a lost message) or running past "
        "their lease (a dead worker); a job sent again SWEEP_MAX times fails as lost. Beside it, the batch keeper "
        "releases batches' lines to the bulk lane and ends finished batches. Once and exit (a CronJob), or every S "
        "seconds with --every (the keeper then every second).",
    )
    sweep.add_argument("--every", type=float, metavar="S", help="keep sweeping every S seconds")
    sweep.set_defaults(run=cmd_sweep)

    purge = commands.add_parser(
        "purge",
        help="drop inputs and outputs of jobs finished more than RESULT_TTL ago (a CronJob)",
        description="Drop the inputs and outputs of the jobs finished more than RESULT_TTL seconds ago (nothing "
        "when RESULT_TTL is 0). Once and exit (a CronJob), or every S seconds with --every.",
    )
    purge.add_argument("--every", type=float, metavar="S", help="keep purging every S seconds")
    purge.set_defaults(run=cmd_purge)

    commands.add_parser(
        "submit",
        help="run a file of inputs through the API (inference-api submit --help)",
        description="Run a file of inputs through the API and write the results (from the inference-api-client "
        "package; `inference-api submit --help` lists its options).",
    )

    models = commands.add_parser(
        "models", help="the model catalog", description="Work on the models of the catalog."
    ).add_subparsers(dest="action", required=True)
    prepare = models.add_parser(
        "prepare",
        help="export catalog models to ONNX (needs the [export] extra)",
        description="Export catalog models to ONNX into MODELS_DIR (optimized, quantized where the catalog says) "
        "and record them in the database, where GET /models reads them. A model already prepared is not "
        "exported again. Needs the [export] extra (torch).",
    )
    prepare.add_argument("names", nargs="*", metavar="NAME", help="models to prepare (default: the default model)")
    prepare.add_argument("--all", action="store_true", help="prepare every model in the catalog")
    prepare.add_argument("--force", action="store_true", help="prepare again even when already prepared")
    prepare.add_argument("--no-advice", action="store_true", help="skip timing the fp32 and int8 exports here")
    prepare.set_defaults(run=cmd_prepare)

    alive = commands.add_parser(
        "worker-alive",
        help="exit 0 when a worker process beat recently (liveness probe)",
        description="Exit 0 when a worker process wrote its heartbeat within --max-age seconds, else 1 with the "
        "reason: the worker's liveness probe.",
    )
    alive.add_argument("--max-age", type=float, default=30.0, metavar="S", help="heartbeat age limit (default 30)")
    alive.add_argument("--dir", type=Path, help="heartbeat directory (default: WORKER_HEARTBEAT_DIR)")
    alive.set_defaults(run=cmd_worker_alive)

    args = parser.parse_args(argv)
    try:
        config = Config.from_env()
    except ConfigError as e:
        parser.exit(2, f"inference-api: configuration error: {e}\n")
    logs.configure(config.log_level, config.log_format, background=args.run is cmd_serve)
    try:
        args.run(args, config)
    except InferenceError as e:  # a configuration the service cannot start with: say so, no traceback
        parser.exit(1, f"inference-api: {e}\n")


def submit(argv: list[str]) -> None:
    """The client's `submit`, from its own package: an install without it (the API image) says so in one line."""
    try:
        from inference_client.cli import main as client_main
    except ModuleNotFoundError as e:
        if (e.name or "").partition(".")[0] != "inference_client":
            raise
        sys.exit("inference-api submit needs the client (inference-api-client): run `pip install ./client` in the repo")
    return client_main(argv, prog="inference-api")
