"""The `inference-api` command: serve, migrate, sweep, purge, models prepare, worker-alive, and the client's
submit. A composition root."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import warnings
from dataclasses import replace
from pathlib import Path

from core import __version__, logs
from core.config import Config, ConfigError
from core.errors import InferenceError

logger = logging.getLogger("inference_api")

# Waitress writes a response from the request's thread as it comes (send_bytes 1), while its main loop,
# seeing output it cannot lock, spins on select until the thread is done: 4 to 21 turns a request, and
# 16% more of the API's CPU a POST. Left to the main loop, which the request's end wakes anyway, the headers and
# the body go out in one send and the loop turns once a request (bench/HISTORY.md has the figures). A response is
# sent early only past this size.
SEND_BYTES = 64 * 1024


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
        "their lease (a dead worker); a job sent again SWEEP_MAX times fails as lost. Once and exit (a CronJob), or "
        "every S seconds with --every.",
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


def cmd_serve(args: argparse.Namespace, config: Config) -> None:
    from inference_api import draining

    config = replace(config, host=args.host or config.host, port=args.port or config.port)
    check_port(config.host, config.port)  # before migrations and models: a busy port fails in a moment
    app, embedded = build_app(config)
    try:
        server = create_server(app, config)
    except OSError as e:  # taken in the meantime
        if embedded is not None:
            embedded.stop()
        sys.exit(_unusable(config.host, config.port, e))
    if not config.api_keys and not _loopback(config.host):
        logger.warning(
            "serving on %s with no API keys: anyone who can reach it can use the API (set API_KEYS or API_KEYS_FILE)",
            config.host,
        )
    mode = (
        f"embedded: {config.database}, in-process worker x{config.worker_threads} threads"
        if config.embedded
        else "API only: workers run `dramatiq actors.worker`"
    )
    print(f"Serving on http://{config.host}:{server.effective_port} ({mode})", file=sys.stderr, flush=True)
    try:
        received = draining.serve(server, drain_seconds=config.drain_seconds)
        logger.info("%s: stopped accepting, requests in flight done; shutting down", received or "stop")
    finally:
        if embedded is not None:
            embedded.stop()


def check_port(host: str, port: int) -> None:
    """Exit with one line naming PORT and --port when `host:port` cannot be listened on (in use, not allowed,
    not an address of this host). Bound as waitress binds (SO_REUSEADDR), then released."""
    import socket

    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as e:
        sys.exit(f"inference-api: cannot serve on {host}:{port}: {e.strerror or e} (check HOST or --host)")
    for family, kind, protocol, _, address in addresses[:1]:  # waitress listens on the first
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as e:
                sys.exit(_unusable(host, port, e))


def _unusable(host: str, port: int, error: OSError) -> str:
    import errno

    why = {
        errno.EADDRINUSE: "the address is already in use (is the service already running?)",
        errno.EACCES: "permission denied (ports below 1024 need privileges)",
        errno.EADDRNOTAVAIL: "not an address of this host (check HOST or --host)",
    }.get(error.errno, error.strerror or str(error))
    return (
        f"inference-api: cannot serve on {host}:{port}: {why}; choose another port with PORT "
        f"(e.g. PORT={port + 1 if port < 65535 else 8000}) or --port"
    )


def create_server(app, config: Config):
    """The waitress server of `app` (not started)."""
    import waitress

    with warnings.catch_warnings():  # send_bytes is deprecated (waitress 3): its removal fails here, loudly
        warnings.filterwarnings("ignore", "send_bytes", DeprecationWarning)
        return waitress.create_server(
            app,
            host=config.host,
            port=config.port,
            threads=config.web_threads,
            max_request_body_size=config.max_body_hard_cap,  # the app answers 413 (JSON) up to this size
            send_bytes=SEND_BYTES,
            ident="inference-api",
        )


def build_app(config: Config):
    """The API process: the database bound, the job-events relay started, and the WSGI app; in the embedded
    mode also the in-process worker and sweeper (returned, to be stopped at exit; None otherwise)."""
    import db
    from db import Job, events
    from web import create_app

    db.connect(config.database, statement_timeout_ms=config.statement_timeout_ms)
    catalog = _catalog(config)
    embedded = tokens = None
    if config.embedded:
        from catalog.tokens import TokenCounter
        from inference_api import embedded as embedded_mode

        embedded = embedded_mode.start(config, catalog)
        sender = embedded.sender
        tokens = TokenCounter(config.models_path)  # the models are at hand here: `truncate: false` checked at once
    else:
        from actors.sending import open_sender

        sender = open_sender(config.broker_url, send_timeout=config.broker_send_timeout)
    events.listen(read=Job.find_many, build=Job.from_row_json)  # PostgreSQL: relay job-finished notifications
    return create_app(config, sender=sender, catalog=catalog, tokens=tokens), embedded


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any interface


def cmd_migrate(args: argparse.Namespace, config: Config) -> None:
    import db
    from db import migrate

    db.connect(config.database)  # no statement timeout: a migration may take its time
    applied = migrate.apply()
    print(f"applied: {', '.join(applied)}" if applied else "database is up to date")


def cmd_sweep(args: argparse.Namespace, config: Config) -> None:
    import datetime as dt

    import db
    from actors.sending import open_sender
    from actors.sweeper import Sweeper

    db.connect(config.database, statement_timeout_ms=config.statement_timeout_ms)
    sweeper = Sweeper(
        open_sender(config.broker_url, send_timeout=config.broker_send_timeout),
        every=args.every or 0,
        queued_after=dt.timedelta(seconds=config.sweep_after),
        max_sweeps=config.sweep_max,
        echo=True,
    )
    if not args.every:  # once (a CronJob): a failed sweep is a failed run
        report = sweeper.sweep_once()
        if report is None:
            sys.exit("inference-api: sweep failed (the database or the broker is unavailable)")
        print(report, flush=True)
        return
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: sweeper.stop())
    sweeper.sweep_once()
    sweeper.run()  # in the foreground: survives outages, logs each once, ends on SIGTERM or SIGINT


def cmd_purge(args: argparse.Namespace, config: Config) -> None:
    import datetime as dt
    import time

    import db
    from db.retention import purge

    db.connect(config.database)
    if not config.result_ttl:
        print("purge: RESULT_TTL is 0, results are kept for ever; nothing to do", flush=True)
        return
    while True:
        with db.database.connection_context():
            report = purge(dt.timedelta(seconds=config.result_ttl))
        print(report, flush=True)
        if not args.every:
            return
        time.sleep(args.every)


def cmd_prepare(args: argparse.Namespace, config: Config) -> None:
    """Export each model (unless prepared already) and record its preparation in the database (the
    `model` table, which `GET /models` reads on any host): a model prepared but not recorded is an error,
    and running the command again records it without exporting again."""
    catalog = _catalog(config)
    import peewee

    import db
    from actors.fleet import record_prepared
    from actors.prepare import PrepareError, prepare

    names = list(catalog.models) if args.all else args.names or [catalog.default]
    unknown = [n for n in names if n not in catalog.models]
    if unknown:
        sys.exit(f"inference-api: unknown model(s) {', '.join(unknown)}; catalog: {', '.join(catalog.models)}")
    db.connect(config.database)
    if not config.database_url:  # the embedded SQLite file: its schema is ours to apply, as `serve` does
        from db import migrate

        migrate.apply()
    where = _shown(config.database)
    failed, unrecorded = [], []
    for name in names:
        try:
            target = prepare(catalog.models[name], config.models_path, force=args.force)
        except PrepareError as e:
            print(f"{name}: {e}", file=sys.stderr)
            failed.append(name)
            continue
        try:
            with db.database.connection_context():
                record_prepared(target)
        except peewee.PeeweeException as e:
            print(f"{name}: prepared in {target}, but not recorded in {where}: {str(e).strip()}", file=sys.stderr)
            unrecorded.append(name)
        else:
            print(f"{name}: recorded in {where}", file=sys.stderr)
    if unrecorded:
        print(
            f"inference-api: {', '.join(unrecorded)} not recorded: GET /models reports a model prepared from the "
            f"database. Check DATABASE_URL, run `inference-api migrate`, then run this command again "
            "(nothing is exported twice; a worker that loads the model records it too).",
            file=sys.stderr,
        )
    if failed or unrecorded:
        sys.exit(f"inference-api: could not prepare {', '.join(failed + unrecorded)}")


def _shown(url: str) -> str:
    """A database URL fit for a message: no password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


def cmd_worker_alive(args: argparse.Namespace, config: Config) -> None:
    from actors.liveness import alive

    directory = args.dir or config.worker_heartbeat_dir
    pids = alive(directory, args.max_age)
    if not pids:
        sys.exit(f"inference-api: no worker process beat in {directory} within {args.max_age:g} s")
    print(f"alive: worker process(es) {', '.join(map(str, pids))}")


def _catalog(config: Config):
    from catalog import Catalog, CatalogError

    try:
        return Catalog.from_config(config)
    except CatalogError as e:
        sys.exit(f"inference-api: invalid model catalog: {e}")
