"""`dramatiq tests.poison_worker`: the real worker, except that an input containing "POISON" kills the
worker process the way a crashing native runtime would (SIGSEGV). For the poison-input test only."""

import os
import signal

from actors.worker import broker, runtimes  # noqa: F401  (the CLI finds the broker here)

_load = runtimes.get


def _get(name):
    model = _load(name)

    def crashing(inputs, **parameters):
        if any("POISON" in text for text in inputs):
            os.kill(os.getpid(), signal.SIGSEGV)
        return model(inputs, **parameters)

    return crashing


runtimes.get = _get
