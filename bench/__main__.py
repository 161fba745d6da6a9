"""`python -m bench`: run the modes, print a line per mode and the ratios, optionally write the JSON.
`python -m bench results FILE... --out PAGE` turns such JSON into the Markdown page of the latest results.
`python -m bench scale` measures the database and broker paths per core of their servers (`bench.scale`)."""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from bench import interleave, lines, report, results
from bench.infra import Infra, InfraError
from bench.settings import DEFAULT_MODES, MODES, PRESETS, Settings
from bench.stack import Stack


def parse(argv: list[str] | None) -> tuple[Settings, Path | None]:
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="every mode in under 5 minutes on 2 cores")
    size.add_argument("--tiny", action="store_true", help="very small N: checks that every mode runs and reports")
    parser.add_argument(
        "--modes",
        default=",".join(DEFAULT_MODES),
        help=f"comma-separated, from: {', '.join(MODES)} (default: all but peer)",
    )
    parser.add_argument("--n", action="append", default=[], metavar="MODE=N", help="override one mode's size")
    parser.add_argument("--rounds", type=int, help="repeats: rounds of every mode, taking turns (ratios: their median)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every result here")
    parser.add_argument("--model", default=defaults.model, help="catalog model (default: %(default)s)")
    parser.add_argument("--models-dir", type=Path, default=defaults.models_dir)
    parser.add_argument("--processes", type=int, default=defaults.processes, help="worker and raw processes")
    parser.add_argument(
        "--worker-threads", type=int, default=defaults.worker_threads, help="default: the Procfile's --threads"
    )
    parser.add_argument("--web-threads", type=int, default=defaults.web_threads)
    parser.add_argument("--clients", type=int, default=defaults.clients, help="concurrent HTTP clients in e2e")
    parser.add_argument("--ingest-clients", type=int, help="concurrent HTTP clients in ingest (default: web threads)")
    parser.add_argument("--postgres", default=defaults.postgres_url, help="an admin URL; we create our database")
    parser.add_argument("--rabbitmq", default=defaults.rabbitmq_url, help="a URL on the server; we add our vhost")
    parser.add_argument("--database", default=defaults.database, help="our own database (default: %(default)s)")
    parser.add_argument("--vhost", default=defaults.vhost, help="our own vhost (default: %(default)s)")
    parser.add_argument(
        "--settle",
        type=float,
        metavar="CORES",
        help="on a shared machine: before each round, wait (up to 30 s) until other work uses at most CORES cores",
    )
    parser.add_argument("--log-dir", type=Path, default=defaults.log_dir, help="child process logs")
    parser.add_argument(
        "--peer", default=defaults.peer, help="the peer mode's infinity_emb executable (default: $BENCH_PEER, or PATH)"
    )
    args = parser.parse_args(argv)

    chosen = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    unknown = [m for m in chosen if m not in MODES]
    if unknown or not chosen:
        parser.error(f"--modes: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(MODES)}")
    preset = "quick" if args.quick else "tiny" if args.tiny else "full"
    sizes = PRESETS[preset]
    if args.rounds:
        sizes = replace(sizes, repeats=args.rounds)
    settings = Settings(
        model=args.model,
        models_dir=args.models_dir.resolve(),
        processes=args.processes,
        worker_threads=args.worker_threads,
        web_threads=args.web_threads,
        clients=args.clients,
        ingest_clients=args.ingest_clients,
        postgres_url=args.postgres,
        rabbitmq_url=args.rabbitmq,
        database=args.database,
        vhost=args.vhost,
        log_dir=args.log_dir.resolve(),
        peer=args.peer,
        settle=args.settle,
        preset=preset,
        sizes=sizes,
        modes=tuple(m for m in MODES if m in chosen),  # always in the order that keeps each mode's conditions
    )
    try:
        settings = settings.with_overrides(args.n)
    except ValueError as e:
        parser.error(str(e))
    return settings, args.json


class Progress:
    def __init__(self):
        self.started = time.monotonic()
        self.mode = ""

    def __call__(self, message: str) -> None:
        print(f"[bench {time.monotonic() - self.started:6.1f}s] {self.mode}: {message}", file=sys.stderr, flush=True)


def _stopped(signum, frame) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["results"]:
        return results.main(argv[1:])
    if argv[:1] == ["scale"]:
        from bench import scale

        return scale.main(argv[1:])
    settings, json_path = parse(argv)
    if not (settings.model_dir / "manifest.json").is_file():
        sys.exit(f"bench: model {settings.model} is not prepared in {settings.models_dir}: "
                 f"run `inference-api models prepare {settings.model}` (MODELS_DIR={settings.models_dir})")  # fmt: skip
    # stopped (kill, a CI timeout): unwind as on Ctrl-C, so the modes' processes and our tables go with the run
    signal.signal(signal.SIGTERM, _stopped)
    started = dt.datetime.now(dt.UTC)
    progress = Progress()
    quantization = settings.spec().quantize
    infra = Infra(settings)
    stack = Stack(settings, infra)
    modes: dict[str, dict] = {}
    errors: dict[str, str] = {}
    print(
        f"bench ({settings.preset}): {settings.model}, {settings.processes} processes x {settings.worker_threads} "
        f"threads, {settings.web_threads} web threads, {settings.clients} e2e clients, {settings.ingest_concurrency} "
        f"ingest clients; modes {', '.join(settings.modes)}, taking turns {settings.sizes.repeats} time(s)",
        flush=True,
    )
    try:
        progress.mode = "setup"
        progress(f"database {settings.database} and vhost {settings.vhost}")
        try:
            infra.setup()
        except InfraError as e:
            sys.exit(f"bench: {e}")
        modes, errors = interleave.run(settings, infra, stack, progress)
        for mode, result in modes.items():
            print(lines.mode_line(mode, result), flush=True)
    finally:
        progress.mode = "cleanup"
        try:
            stack.close()
        finally:
            infra.cleanup()
    doc = report.document(settings, modes, started, quantization)
    if errors:
        doc["errors"] = errors
    print(report.summary(doc), flush=True)
    print(f"took {doc['seconds']:.0f} s", flush=True)
    if json_path is not None:
        report.write(json_path, doc)
        print(f"wrote {json_path}", flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
