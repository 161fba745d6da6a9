"""`inference-api serve`: the API on waitress, with the embedded worker when no broker is configured.

The port is checked before anything else (migrations, the model), so a busy one costs a moment and one line.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from dataclasses import replace

from core.config import Config
from inference_api.commands import load_catalog

logger = logging.getLogger("inference_api")


# Waitress writes a response from the request's thread as it comes (send_bytes 1), while its main loop,
# seeing output it cannot lock, spins on select until the thread is done: 4 to 21 turns a request, and
# 16% more of the API's CPU a POST. Left to the main loop, which the request's end wakes anyway, the headers and
# the body go out in one send and the loop turns once a request (bench/HISTORY.md has the figures). A response is
# sent early only past this size.
SEND_BYTES = 64 * 1024


def cmd_serve(args: argparse.Namespace, config: Config) -> None:
    from inference_api import draining

    config = replace(config, host=args.host or config.host, port=args.port or config.port)
    check_exposure(config)  # before anything is touched: an open API on a public address never starts
    check_port(config.host, config.port)  # before migrations and models: a busy port fails in a moment
    if config.metrics_port:
        check_port(config.host, config.metrics_port)
    app, metrics_app, embedded = build_apps(config)
    try:
        server = create_server(app, config)
    except OSError as e:  # taken in the meantime
        if embedded is not None:
            embedded.stop()
        sys.exit(_unusable(config.host, config.port, e))
    if not config.api_keys and not _loopback(config.host):  # ALLOW_OPEN said so: still worth a line
        logger.warning(
            "serving on %s with no API keys (ALLOW_OPEN): anyone who can reach it can use the API", config.host
        )
    if config.metrics_port:
        from inference_api.metrics_server import start_metrics_server

        start_metrics_server(metrics_app, config.host, config.metrics_port)
    mode = (
        f"embedded: {config.database}, in-process worker x{config.worker_threads} threads"
        if config.embedded
        else "API only: workers run `dramatiq actors.worker`"
    )
    print(f"Serving on http://{config.host}:{server.effective_port} ({mode})", file=sys.stderr, flush=True)
    try:
        from web.waiting import STOPPING

        received = draining.serve(server, drain_seconds=config.drain_seconds, on_stop=STOPPING.begin)
        logger.info("%s: stopped accepting, requests in flight done; shutting down", received or "stop")
    finally:
        if embedded is not None:
            embedded.stop()


def check_exposure(config: Config) -> None:
    """Exit with one line unless the API is keyed, on loopback, or told to be open (`ALLOW_OPEN=1`)."""
    if not config.api_keys and not config.allow_open and not _loopback(config.host):
        sys.exit(
            f"inference-api: refusing to serve on {config.host} with no API keys: set API_KEYS or API_KEYS_FILE, "
            "or ALLOW_OPEN=1 to serve an open API on purpose"
        )


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
    """The API's WSGI app and the embedded mode's worker (None otherwise), as `build_apps` makes them."""
    app, _, embedded = build_apps(config)
    return app, embedded


def build_apps(config: Config):
    """The API process: the database bound, the job-events relay started, the WSGI app and, with
    METRICS_PORT, the app of that port (else None); in the embedded mode also the in-process worker and
    sweeper (returned, to be stopped at exit; None otherwise)."""
    import db
    from db import Job, events
    from web import create_app
    from web.app import create_metrics_app

    db.connect(config.database, statement_timeout_ms=config.statement_timeout_ms)
    catalog = load_catalog(config)
    embedded = tokens = None
    if config.embedded:
        from catalog.tokens import TokenCounter
        from inference_api import embedded as embedded_mode

        embedded = embedded_mode.start(config, catalog)
        sender = embedded.sender
        tokens = TokenCounter(config.models_path)  # the models are at hand here: `truncate: false` checked at once
    else:
        from actors.sending import sender_for

        sender = sender_for(config)
    events.listen(read=Job.find_many, build=Job.from_row_json)  # PostgreSQL: relay job-finished notifications
    app = create_app(config, sender=sender, catalog=catalog, tokens=tokens)
    metrics_app = create_metrics_app(config, sender) if config.metrics_port else None
    return app, metrics_app, embedded


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any interface
