"""Accepting a validated request as a job: the one path every route that creates jobs takes.

POST /inference and POST /v1/embeddings both go through `Intake.accept`, so the backlog limit (429),
idempotency keys, the row committed before its message and the broker's confirmation (503 otherwise)
hold for both in the same way, and so does the refusal of a model not prepared here (`web.prepared`).

Concurrent requests share their disk flushes (a group commit, `web.group_commit`): the rows of the
requests that arrive while a commit runs are inserted in the next one, in one transaction, and their
jobs travel in one message under one broker confirmation. A request alone waits for nobody; every
request still gets its 202 only after its row is committed and its message confirmed. A group whose
requests all wait for their jobs commits without waiting for the disk: the answer waits for it instead
(`web.waiting`), so nobody is told of a job before it is on disk.
"""

from __future__ import annotations

import logging
import time

import peewee

from actors.hints import hint_for
from actors.sending import Sender
from core.errors import Unavailable
from core.owners import OPEN
from db import Job, database
from db.admission import key_turn
from web.admission import Backlog, replay, request_hash
from web.group_commit import GroupCommit
from web.metrics import ACCEPTED, GROUP_SIZE, PUBLISH_SECONDS
from web.prepared import PreparedModels
from web.publishing import PublishTurns
from web.request import InferenceRequest
from web.webhooks import Webhook

logger = logging.getLogger(__name__)


class Intake:
    def __init__(
        self,
        sender: Sender,
        backlog: Backlog,
        prepared: PreparedModels,
        *,
        max_group: int = 64,
        keys=None,
        publish_timeout: float = 5.0,
    ):
        self.sender = sender
        self.turns = PublishTurns(publish_timeout)  # BROKER_SEND_TIMEOUT, counted from the request
        self.backlog = backlog
        self.keys = keys  # `web.limits.KeyLimits`: each API key's own backlog; None without keys
        self.prepared = prepared
        self.group: GroupCommit[dict, Job] = GroupCommit(self._commit, max_group=max_group)

    def accept(
        self,
        request: InferenceRequest,
        key: str | None,
        owner: str = OPEN,
        webhook: Webhook | None = None,
        *,
        awaited: bool = False,
    ) -> tuple[Job, bool]:
        """The job for this request and whether it already existed (same owner, Idempotency-Key and body).
        The job belongs to `owner` (the caller's API key id) and is delivered to `webhook` when it finishes;
        `awaited`: the request waits for its result (its finished row comes with its notification)."""
        if key is None:
            return self._create(request, None, None, owner, webhook, awaited), False
        digest, started = request_hash(request, webhook), time.monotonic()
        with key_turn(owner, key):  # the same owner and key one at a time: a replay sees the first one's outcome
            if (existing := replay(key, digest, owner)) is not None:
                return self._replayed(existing, started), True
            try:
                return self._create(request, key, digest, owner, webhook, awaited, started), False
            except peewee.IntegrityError:  # another process took the key between (SQLite: not serialized there)
                return self._replayed(replay(key, digest, owner), started), True

    def _replayed(self, job: Job, started: float) -> Job:
        """The job an earlier request with the key created, sent again when its first send failed (taking
        turns, the replay comes after that send's outcome), so that a replay never answers 202 for a job
        that will not run; `Unavailable` (503) when the broker still takes nothing."""
        if job.never_enqueued:
            with self.turns.turn(started):
                self.sender.resend(job)
            job = Job.get_by_id(job.id)
        return job

    def _create(self, request, key, digest, owner, webhook, awaited, started: float | None = None) -> Job:
        self.prepared.check(request.spec.name)  # a model not prepared here would only fail on a worker
        self.backlog.admit(request.spec.name)
        if self.keys is not None:
            self.keys.admit_job(owner)
        fields = {
            "model": request.spec.name,
            "task": request.task,
            "inputs": request.inputs,
            "parameters": request.parameters,
            "idempotency_key": key,
            "request_hash": digest,
            "owner": owner,
            "webhook": webhook.url if webhook else None,
            "webhook_events": ",".join(webhook.events) if webhook else None,
            "awaited": awaited,
        }
        if key is None:
            database.close()  # waiting for a group needs no connection: the leader uses its own
            job = self.group.submit(fields)  # shares its commit and message with concurrent requests
        else:  # alone, on this thread's connection (it holds the key's turn): committed, then sent
            [job] = self._commit([fields], started)
        ACCEPTED.labels(job.model, job.task).inc()
        # at debug: the request's own line (web.requests) carries the job's id, model and task
        logger.debug("job %s accepted", job.id, extra={"job_id": str(job.id), "model": job.model, "task": job.task})
        return job

    def _commit(self, rows: list[dict], started: float | None = None) -> list[Job]:
        """Insert the jobs in one commit, then send one message for all of them (broker-confirmed):
        the rows are committed before their message exists, so a worker always finds them. The send
        waits its turn within the deadline counted from `started` (now: a group's leader).

        When every request of the group waits for its job and none has a key (whose replays would read it),
        the commit does not wait for the disk: each is answered once its job is (`Job.create_many`)."""
        deferred = all(row["awaited"] and row["idempotency_key"] is None for row in rows)
        jobs = Job.create_many(rows, durable=not deferred)
        ids = [job.id for job in jobs]
        try:
            with self.turns.turn(time.monotonic() if started is None else started):
                publishing = time.perf_counter()
                self.sender.enqueue(*ids, hint=hint_for(jobs))
        except Unavailable:
            for job_id in ids:  # no turn came: nothing stays queued with no message (enqueue marks its own)
                Job.not_enqueued(job_id)
            raise
        PUBLISH_SECONDS.observe(time.perf_counter() - publishing)
        GROUP_SIZE.observe(len(jobs))
        return jobs
