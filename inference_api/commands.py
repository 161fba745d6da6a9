"""The other commands: migrate, sweep, purge, models prepare, worker-alive."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from core.config import Config

logger = logging.getLogger("inference_api")


def cmd_migrate(args: argparse.Namespace, config: Config) -> None:
    import db
    from db import migrate

    db.connect(config.database)  # no statement timeout: a migration may take its time
    applied = migrate.apply()
    print(f"applied: {', '.join(applied)}" if applied else "database is up to date")


def cmd_sweep(args: argparse.Namespace, config: Config) -> None:
    import datetime as dt

    import db
    from actors.sending import sender_for
    from actors.sweeper import Sweeper

    db.connect(config.database, statement_timeout_ms=config.statement_timeout_ms)
    sweeper = Sweeper(
        sender_for(config),
        every=args.every or 0,
        queued_after=dt.timedelta(seconds=config.sweep_after),
        max_sweeps=config.sweep_max,
        echo=True,
    )
    if not args.every:  # once (a CronJob): one pass of the sweep and of the batch keeper; a failed one fails the run
        report, released = sweeper.sweep_once(), sweeper.keeper.keep_once()
        if report is None or released is None:
            sys.exit("inference-api: sweep failed (the database or the broker is unavailable)")
        print(report, flush=True)
        print(f"batches: {released} line(s) released on the bulk lane", flush=True)
        return
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: sweeper.stop())
    sweeper.sweep_once()
    sweeper.run()  # in the foreground: survives outages, logs each once, ends on SIGTERM or SIGINT


def cmd_purge(args: argparse.Namespace, config: Config) -> None:
    import datetime as dt
    import threading

    import db
    from core.outage import Outage
    from db.retention import purge

    db.connect(config.database)
    if not config.result_ttl:
        print("purge: RESULT_TTL is 0, results are kept for ever; nothing to do", flush=True)
        return
    if not args.every:  # once (a CronJob): a failed purge is a failed run
        with db.database.connection_context():
            print(purge(dt.timedelta(seconds=config.result_ttl)), flush=True)
        return
    stopping, outage = threading.Event(), Outage(logger, "purge")
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stopping.set())
    pause = 0.0
    while not stopping.wait(pause):  # through outages of the database: log once, back off, carry on
        try:
            with db.database.connection_context():
                report = purge(dt.timedelta(seconds=config.result_ttl))
        except Exception as e:  # the database is down, or failed over: the next round tries again
            outage.failed(e)
            pause = min(args.every, 2 ** min(outage.failures, 6))  # 2, 4, ... 64 s, never past --every
            continue
        outage.ok()
        print(report, flush=True)
        pause = args.every


def cmd_prepare(args: argparse.Namespace, config: Config) -> None:
    """Export each model (unless prepared already) and record its preparation in the database (the
    `model` table, which `GET /models` reads on any host): a model prepared but not recorded is an error,
    and running the command again records it without exporting again."""
    catalog = load_catalog(config)
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
    if not getattr(args, "no_advice", False):
        _advise(catalog, config, [n for n in names if n not in failed])
    if unrecorded:
        print(
            f"inference-api: {', '.join(unrecorded)} not recorded: GET /models reports a model prepared from the "
            f"database. Check DATABASE_URL, run `inference-api migrate`, then run this command again "
            "(nothing is exported twice; a worker that loads the model records it too).",
            file=sys.stderr,
        )
    if failed or unrecorded:
        sys.exit(f"inference-api: could not prepare {', '.join(failed + unrecorded)}")


def _advise(catalog, config: Config, names: list[str]) -> None:
    """Time the fp32 and int8 exports of each family just prepared, and say which to run on this machine."""
    from actors import advice

    for line in advice.report(catalog, config.models_path, only=names):
        print(line, flush=True)


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


def load_catalog(config: Config):
    from catalog import Catalog, CatalogError

    try:
        return Catalog.from_config(config)
    except CatalogError as e:
        sys.exit(f"inference-api: invalid model catalog: {e}")
