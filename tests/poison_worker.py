"""`dramatiq tests.poison_worker`: the real worker, except that an input containing "POISON" kills the
worker process the way a crashing native runtime would (SIGSEGV). For the poison-input test only."""

import signal
import time

from actors.worker import broker, runtimes  # noqa: F401  (the CLI finds the broker here)

_load = runtimes.get


def _get(name):
    model = _load(name)

    def crashing(inputs, **parameters):
        if any("POISON" in text for text in inputs):
            # To this thread, which never goes on: `os.kill` sent it to the process, and until the kernel
            # got round to a thread to kill, this one went on to run the model and save the job (seen in
            # CI: the poison 'succeeded' a few ms before its process died).
            signal.raise_signal(signal.SIGSEGV)
            while True:
                time.sleep(1)
        return model(inputs, **parameters)

    return crashing


runtimes.get = _get
