"""What the deployment has prepared and which worker processes run it, kept in the database so any host
can answer: a `PreparedModel` row per model and preparation, a `WorkerProcess` row per live worker.

Workers refresh their row every few seconds (`actors.heartbeat`); a row not refreshed before its
`expires_at` is a process that is gone (killed, its host lost): queries ignore it and any worker's next
heartbeat prunes it.
Timestamps are naive UTC from each host's clock, like the job's: hosts are assumed NTP-synchronized,
to well under the expiry.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import peewee

from db.base import BaseModel, utcnow


class PreparedModel(BaseModel):
    """One preparation of one catalog model: what its manifest says, recorded when it is written."""

    name = peewee.CharField(max_length=200)
    digest = peewee.CharField(max_length=64)  # sha256 of the ONNX file
    source = peewee.CharField(max_length=500)
    task = peewee.CharField(max_length=64)
    quantization = peewee.CharField(max_length=64, null=True)
    optimization = peewee.CharField(max_length=16, null=True)
    files = peewee.JSONField(default=dict)
    versions = peewee.JSONField(default=dict)
    manifest = peewee.JSONField(default=dict)
    onnx_bytes = peewee.BigIntegerField(null=True)
    prepared_at = peewee.DateTimeField()
    recorded_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "model"
        indexes = ((("name", "digest"), True),)

    @classmethod
    def record(cls, manifest: dict[str, Any], *, onnx_bytes: int | None = None) -> PreparedModel:
        """Insert or refresh the row of this preparation (the same name and ONNX file hash is one row)."""
        files = manifest.get("files") or {}
        fields = {
            "name": manifest["name"],
            "digest": files.get(manifest.get("onnx", "model.onnx")) or "",
            "source": manifest.get("source") or "",
            "task": manifest["task"],
            "quantization": manifest.get("quantization"),
            "optimization": manifest.get("optimization"),
            "files": files,
            "versions": manifest.get("versions") or {},
            "manifest": manifest,
            "onnx_bytes": onnx_bytes,
            "prepared_at": _timestamp(manifest.get("prepared_at")),
            "recorded_at": utcnow(),
        }
        update = {getattr(cls, name): value for name, value in fields.items() if name not in ("name", "digest")}
        cls.insert(**fields).on_conflict(conflict_target=[cls.name, cls.digest], update=update).execute()
        return cls.get((cls.name == fields["name"]) & (cls.digest == fields["digest"]))

    @classmethod
    def latest(cls) -> dict[str, PreparedModel]:
        """The most recent preparation of each model, by name."""
        latest: dict[str, PreparedModel] = {}
        for row in cls.select().order_by(cls.prepared_at, cls.id):
            latest[row.name] = row
        return latest


class WorkerProcess(BaseModel):
    """A worker process and the models it has loaded, as of its last heartbeat (`seen_at`)."""

    id = peewee.CharField(max_length=200, primary_key=True)
    host = peewee.CharField(max_length=255)
    pid = peewee.IntegerField()
    models = peewee.JSONField(default=list)
    started_at = peewee.DateTimeField()
    seen_at = peewee.DateTimeField()
    expires_at = peewee.DateTimeField(index=True)  # seen_at + the worker's own expiry

    class Meta:
        table_name = "worker"

    @classmethod
    def beat(
        cls, worker_id: str, *, host: str, pid: int, models: list[str], started_at: dt.datetime, expiry: dt.timedelta
    ) -> None:
        """Say this process is alive now, with these models loaded, and to count it as gone after `expiry`
        without another beat (each worker says its own, so readers need not share its interval)."""
        now = utcnow()
        fields = {"id": worker_id, "host": host, "pid": pid, "models": models, "started_at": started_at}
        cls.insert(**fields, seen_at=now, expires_at=now + expiry).on_conflict(
            conflict_target=[cls.id], update={cls.models: models, cls.seen_at: now, cls.expires_at: now + expiry}
        ).execute()

    @classmethod
    def forget(cls, worker_id: str) -> None:
        """A clean shutdown: the process stops running anything now."""
        cls.delete().where(cls.id == worker_id).execute()

    @classmethod
    def live(cls) -> list[WorkerProcess]:
        """The processes whose last heartbeat has not expired."""
        return list(cls.select().where(cls.expires_at >= utcnow()).order_by(cls.started_at))

    @classmethod
    def prune(cls) -> int:
        """Delete the rows whose heartbeat expired (processes killed without a clean shutdown)."""
        return cls.delete().where(cls.expires_at < utcnow()).execute()

    @classmethod
    def loaded(cls) -> Counter[str]:
        """How many live worker processes have each model loaded."""
        return Counter(name for worker in cls.live() for name in set(worker.models or ()))


def _timestamp(value: Any) -> dt.datetime:
    """A manifest's ISO time (with its offset) as naive UTC; now when it has none."""
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return utcnow()
        return parsed.astimezone(dt.UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
    return utcnow()
