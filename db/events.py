"""Job-finished events, so a client can wait for a result without polling the database.

Workers announce the jobs they finish: on PostgreSQL with `pg_notify` inside the transaction that writes
the results (delivered to listeners at commit), and always to waiters in their own process (the embedded
mode). The API process runs one `PostgresListener` thread that relays notifications to its waiters.

A notification is a job's id, or its id, a space and the finished row in JSON (a batch's save writes
those, `db.batch`): a waiter is then handed the job as committed, with no read of its own.
"""

from __future__ import annotations

import contextlib
import logging
import select
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson

from db.connection import database, statements
from db.dialects import CHANNEL

logger = logging.getLogger(__name__)

__all__ = ["CHANNEL", "Finished", "JobEvents", "PostgresListener", "announce", "events", "listen"]


class Finished(threading.Event):
    """A waiter's event. `job` is the finished job when the relay has it for its waiters (built from its
    notification, or read in one statement for every job of a notification, instead of one read by each
    woken request); None: the waiter reads it."""

    def __init__(self):
        super().__init__()
        self.job: Any = None


class JobEvents:
    """The waiters of this process, by job id, and the ids announced most recently.

    A waiter that registers just after its job's announcement still finds its event set (from the
    recent ids), so a caller holding a job it read or created before registering needs no second read
    to close that race: it waits for the event, then reads once."""

    def __init__(self, remember: int = 4096):
        self._waiters: dict[str, set[Finished]] = defaultdict(set)
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def waiting(self, job_id) -> Iterator[Finished]:
        """An event set when `job_id` is announced, already set if it was announced recently."""
        event, key = Finished(), str(job_id)
        with self._lock:
            self._waiters[key].add(event)
            if key in self._recent:
                event.set()
        try:
            yield event
        finally:
            with self._lock:
                self._waiters[key].discard(event)
                if not self._waiters[key]:
                    del self._waiters[key]

    def waited(self, job_ids: Iterable) -> list[str]:
        """Those of `job_ids` a request of this process waits for."""
        with self._lock:
            return [key for key in map(str, job_ids) if key in self._waiters]

    def publish(self, job_ids: Iterable, jobs: Mapping[str, Any] | None = None) -> None:
        """Wake the waiters of `job_ids`, handing each its job when `jobs` (by id as text) holds it."""
        keys = [str(job_id) for job_id in job_ids]
        with self._lock:
            events = [(key, event) for key in keys for event in self._waiters.get(key, ())]
            self._recent.update(dict.fromkeys(keys))
            while len(self._recent) > self._remember:
                self._recent.popitem(last=False)
        for key, event in events:
            event.job = (jobs or {}).get(key)
            event.set()


events = JobEvents()  # one per process


def announce(job_ids: list) -> None:
    """Inside the transaction that finished `job_ids`: tell other processes (where the database can:
    `db.dialects`)."""
    statements.announce(job_ids)


class PostgresListener(threading.Thread):
    """LISTENs on its own connection and relays notifications to this process' waiters; reconnects by itself.

    The jobs of the notifications that have waiters are handed to them: built from the row a notification
    carries (`build`: the row as JSON -> job), else read, in one statement for all of them (`read`: ids ->
    jobs), so a batch of 32 finished jobs wakes 32 requests with at most one read, not 32. With neither,
    each woken waiter reads its own job."""

    def __init__(
        self,
        connect_kwargs: dict,
        hub: JobEvents = events,
        read: Callable[[list[str]], list] | None = None,
        build: Callable[[dict], Any] | None = None,
    ):
        super().__init__(name="job-events-listener", daemon=True)
        self.connect_kwargs = connect_kwargs
        self.hub = hub
        self.read = read
        self.build = build
        self.stopping = threading.Event()
        self.listening = threading.Event()

    def run(self) -> None:
        import psycopg2

        failures = 0
        while not self.stopping.is_set():
            try:
                connection = psycopg2.connect(**self.connect_kwargs)
            except psycopg2.Error as e:
                failures += 1
                log = logger.warning if failures == 1 else logger.debug  # once per outage, not every 2 s
                log("job events: cannot connect (%s); retrying every 2 s", str(e).strip())
                self.stopping.wait(2)
                continue
            if failures:
                logger.info("job events: listening again after %d failed attempts", failures)
            failures = 0
            try:
                connection.autocommit = True
                connection.cursor().execute(f"LISTEN {CHANNEL}")
                self.listening.set()
                while not self.stopping.is_set():
                    if select.select([connection], [], [], 1.0)[0]:
                        connection.poll()
                        notices = dict(n.payload.partition(" ")[::2] for n in connection.notifies)  # id -> row
                        connection.notifies.clear()
                        self.hub.publish(notices, self._jobs(notices))
            except (psycopg2.Error, OSError) as e:
                logger.warning("job events: connection lost (%s); reconnecting", type(e).__name__)
                logger.debug("job events: the connection's error: %s", e)
            finally:
                self.listening.clear()
                with contextlib.suppress(Exception):
                    connection.close()

    def _jobs(self, notices: dict[str, str]) -> dict[str, Any]:
        """The finished jobs that have waiters, by id: built from their notices' rows, else read; a job
        neither gives is left out (its waiter reads it)."""
        jobs, unread = {}, []
        for key in self.hub.waited(notices):
            if notices[key] and self.build is not None:  # no row: too long for a notification
                try:
                    jobs[key] = self.build(orjson.loads(notices[key]))
                    continue
                except Exception as e:  # a row it cannot take (a column it does not know): read it instead
                    logger.debug("job events: could not build job %s from its notification (%r)", key, e)
            unread.append(key)
        return {**jobs, **self._read(unread)}

    def _read(self, ids: list[str]) -> dict[str, Any]:
        """The finished jobs by id, read for their waiters; none when the read fails (each reads its own)."""
        if not ids or self.read is None:
            return {}
        try:
            return {str(job.id): job for job in self.read(ids)}
        except Exception as e:  # the database is away: the waiters' own reads will say so
            logger.debug("job events: could not read %d finished job(s) (%s)", len(ids), e)
            return {}
        finally:
            database.close()

    def stop(self) -> None:
        self.stopping.set()


_listeners: dict[str, PostgresListener] = {}
_listeners_lock = threading.Lock()


def listen(
    read: Callable[[list[str]], list] | None = None, build: Callable[[dict], Any] | None = None
) -> PostgresListener | None:
    """Relay other processes' notifications to this one, when the bound database is PostgreSQL
    (one listener per process and database, started on first call), with the jobs they carry (`build`)
    or `read` finds."""
    if not statements.notifies:
        return None
    db = database.obj
    # the pool's hosts, session attributes and network bounds (a silent peer is found by keepalives, not
    # after the kernel's hours), less its statement timeout
    kwargs = {"dbname": db.database, **{k: v for k, v in db.connect_params.items() if k != "options"}}
    key = repr(sorted(kwargs.items()))
    with _listeners_lock:
        listener = _listeners.get(key)
        if listener is None or not listener.is_alive():
            listener = _listeners[key] = PostgresListener(kwargs, read=read, build=build)
            listener.start()
    return listener
