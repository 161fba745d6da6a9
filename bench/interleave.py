"""The modes take turns: for each repeat, one round of every mode in order (raw, seed, worker, latency,
e2e, calls, peer, ingest, ...), then the next repeat. A shared host's speed drifts over minutes; run back to back,
the two sides of a ratio see the same phase of it, and each ratio is formed per repeat (`bench.report`).

Each mode is a `Session` (its module's): built on its first turn (processes started, models loaded),
`round(index)` once per repeat, `result()` at the end, `close()` always. A mode that fails is reported and
left out of the later repeats; the others go on. Between two modes PostgreSQL writes what the first one
changed (a checkpoint), so a heavy mode's writes never land in the next one's rounds."""

from __future__ import annotations

import sys
import time
import traceback

from bench import bulk, calls, e2e, fairness, flood, ingest, latency, peer, raw, seed, worker
from bench.infra import Infra
from bench.settings import Settings
from bench.stack import Stack

MODULES = {"raw": raw, "seed": seed, "worker": worker, "latency": latency, "e2e": e2e, "calls": calls}
MODULES["peer"] = peer
MODULES["ingest"] = ingest
MODULES["bulk"] = bulk
MODULES |= {"flood": flood, "fairness": fairness}


def run(settings: Settings, infra: Infra, stack: Stack, progress) -> tuple[dict[str, dict], dict[str, str]]:
    """Every mode's result and, by mode, the error of any that failed."""
    sessions, errors, spent = {}, {}, dict.fromkeys(settings.modes, 0.0)
    repeats = settings.sizes.repeats
    try:
        for repeat in range(repeats):
            for mode in settings.modes:
                if mode in errors:
                    continue
                progress.mode = f"{mode} {repeat + 1}/{repeats}"
                began = time.monotonic()
                try:
                    if mode not in sessions:
                        sessions[mode] = MODULES[mode].Session(settings, infra, stack, progress)
                    sessions[mode].round(repeat)
                except Exception as e:  # a broken mode is reported, and the other modes still run
                    errors[mode] = _failed(progress, e)
                finally:
                    spent[mode] += time.monotonic() - began
                if infra is not None:  # the next mode starts with nothing of this one's left to write
                    infra.checkpoint()
        results = {}
        for mode, session in sessions.items():
            if mode in errors:
                continue
            progress.mode = mode
            try:
                results[mode] = {**session.result(), "mode_seconds": round(spent[mode], 1), "interleaved": True}
            except Exception as e:
                errors[mode] = _failed(progress, e)
        return results, errors
    finally:
        for session in sessions.values():
            session.close()


def _failed(progress, error: Exception) -> str:
    message = f"{type(error).__name__}: {error}"
    progress(f"FAILED: {message}")
    traceback.print_exc(file=sys.stderr)
    return message
