"""`dramatiq tests.crash_worker`: the real worker, except that each worker process dies (SIGKILL) right
after it booted and wrote its first heartbeat: the case where Dramatiq's main process can hang with no
live worker process. For the liveness test only."""

import os
import signal

from dramatiq.middleware import Middleware

from actors.liveness import LivenessBeat
from actors.worker import broker


class CrashAtBoot(Middleware):
    def after_worker_boot(self, broker, worker):
        os.kill(os.getpid(), signal.SIGKILL)


# After-hooks run in reverse order: placed before LivenessBeat, it crashes once the heartbeat file exists.
broker.add_middleware(CrashAtBoot(), before=LivenessBeat)
