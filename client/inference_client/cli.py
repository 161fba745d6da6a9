"""The command line: `python -m inference_client submit FILE --model NAME [--out results.jsonl]`.

`inference-api submit` (the server's command) is this same subcommand: it calls `add_submit_arguments`
and `run_submit`. Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

PROG = "submit"
EXIT_FAILED, EXIT_USAGE = 1, 2


def add_submit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run a file of inputs through the Inference API: several inputs per job, a few jobs at a time, results "
        "written in input order (one JSON line per input line). Run the same command again to resume: lines "
        "already written are skipped and jobs already accepted are not created again. The API key comes from "
        "INFERENCE_API_KEY."
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="plain text (a line each), JSONL or CSV")
    parser.add_argument("-m", "--model", help="model name (default: the server's default model)")
    parser.add_argument("-o", "--out", type=Path, help="results JSONL (default: FILE's name + .results.jsonl)")
    parser.add_argument(
        "--url",
        default=os.environ.get("INFERENCE_API_URL", "http://localhost:8000"),
        help="the API's base URL (default: INFERENCE_API_URL or %(default)s)",
    )
    parser.add_argument(
        "--format", choices=("lines", "jsonl", "csv", "tsv"), help="input format (default: from the extension)"
    )
    parser.add_argument("--column", help="CSV column holding the text (default: `text`, or the only column)")
    parser.add_argument("--field", help="JSONL field holding the text (default: `text` or `inputs`)")
    parser.add_argument("--parameters", metavar="JSON", help="model parameters, e.g. '{\"normalize\": true}'")
    parser.add_argument("--batch-size", type=_positive, default=16, help="inputs per job (default: %(default)s)")
    parser.add_argument("--concurrency", type=_positive, default=8, help="jobs in flight (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP request (default: %(default)s)")
    parser.add_argument(
        "--job-timeout", type=float, default=600.0, help="seconds a job may take before the run stops (default: 600)"
    )
    parser.add_argument("--retries", type=int, default=8, help="retries of 429, 503 and lost connections (default: 8)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--batch",
        action="store_true",
        help="run the file as one batch of the Batch API, on the bulk lane: uploaded, followed, then downloaded "
        "(no resume: run it again for a new batch)",
    )


def run_submit(args: argparse.Namespace) -> int:
    """Run `submit` with parsed arguments; the exit status."""
    from inference_client.client import Client
    from inference_client.readers import InputError, read_records
    from inference_client.submit import Options, ResultsFile, Submitter

    try:
        parameters = json.loads(args.parameters) if args.parameters else None
    except ValueError as e:
        return _say(f"--parameters is not JSON: {e}", EXIT_USAGE)
    if parameters is not None and not isinstance(parameters, dict):
        return _say("--parameters must be a JSON object", EXIT_USAGE)
    try:
        records = read_records(args.file, args.format, column=args.column, field=args.field)
    except InputError as e:
        return _say(str(e), EXIT_USAGE)
    out = args.out or args.file.with_name(args.file.name + ".results.jsonl")
    if out.resolve() == args.file.resolve():
        return _say("--out must not be the input file", EXIT_USAGE)

    if args.batch:
        return _run_batch(args, records, out, parameters)
    options = Options(
        model=args.model, parameters=parameters, batch_size=args.batch_size, concurrency=args.concurrency,
        job_timeout=args.job_timeout,
    )  # fmt: skip
    client = Client(args.url, timeout=args.timeout, max_retries=args.retries, max_connections=args.concurrency + 2)
    submitter = Submitter(client, records, ResultsFile(out), options)
    handlers = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        handlers[sig] = signal.signal(sig, lambda signum, _: submitter.stop(signal.Signals(signum).name))
    try:
        summary = submitter.run(progress=not args.quiet)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        client.close()

    where = f"{summary.done_before + summary.written} of {summary.total} lines in {out}"
    if summary.written or summary.jobs:
        rate = summary.written / summary.seconds if summary.seconds else 0.0
        print(
            f"{PROG}: wrote {summary.written} lines ({summary.jobs} jobs, {summary.replayed} already accepted before) "
            f"in {summary.seconds:.1f} s, {rate:.0f} lines/s; {where}",
            file=sys.stderr,
        )
    elif summary.complete:
        print(f"{PROG}: nothing left to submit: all {summary.total} lines are in {out}", file=sys.stderr)
    if summary.failures:
        print(f"{PROG}: {len(summary.failures)} lines failed; the first ones:", file=sys.stderr)
        for line, error in sorted(summary.failures)[:5]:
            print(f"  line {line}: {error}", file=sys.stderr)
    resume = "run the same command again to resume"
    if summary.fatal:
        return _say(f"error: {summary.fatal}; {where}; once fixed, {resume}", EXIT_FAILED)
    if summary.stopped_by:
        status = 128 + signal.Signals[summary.stopped_by].value
        return _say(f"interrupted ({summary.stopped_by}): {where}; {resume}", status)
    return EXIT_FAILED if summary.failures else 0


def _run_batch(args: argparse.Namespace, records: list, out: Path, parameters: dict | None) -> int:
    """`submit --batch`: the records as one batch, followed to its end, the results written in input order."""
    from inference_client.batches import create_batch, follow, requests_of, results_of, upload
    from inference_client.client import Client
    from inference_client.errors import APIError, TransportError
    from inference_client.submit import ResultsFile

    if out.exists():
        return _say(f"{out} exists: a batch writes a new results file; pick another --out", EXIT_USAGE)
    with Client(args.url, timeout=args.timeout, max_retries=args.retries) as client:
        try:
            uploaded = upload(
                client, requests_of(records, model=args.model, parameters=parameters), name=args.file.name
            )
            batch = create_batch(client, uploaded["id"], endpoint="/inference")
            print(f"{PROG}: batch {batch['id']} of {len(records)} lines", file=sys.stderr)
            batch = follow(client, batch["id"], progress=not args.quiet)
            entries = results_of(client, batch, records, out.with_name(out.name + ".part"))
        except (APIError, TransportError) as e:
            return _say(f"error: {e}", EXIT_FAILED)
    results = ResultsFile(out)
    results.write(entries)
    results.close()
    failed = [entry for entry in entries if "error" in entry]
    print(
        f"{PROG}: batch {batch['id']} {batch['status']}: {len(entries) - len(failed)} of {len(entries)} lines in {out}",
        file=sys.stderr,
    )
    for entry in failed[:5]:
        print(f"  line {entry['line']}: {entry['error']}", file=sys.stderr)
    return EXIT_FAILED if failed or batch["status"] != "completed" else 0


def main(argv: list[str] | None = None, *, prog: str = "python -m inference_client") -> None:
    parser = argparse.ArgumentParser(prog=prog, description="Inference API client.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_submit_arguments(commands.add_parser("submit", help="run a file of inputs through the API"))
    args = parser.parse_args(argv)
    sys.exit(run_submit(args))


def _say(message: str, status: int) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return status


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number
