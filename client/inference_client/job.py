"""A job as the API returns it, typed lightly: the known fields, and the whole JSON in `data`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FINISHED = frozenset({"succeeded", "failed", "canceled"})


@dataclass(frozen=True)
class Job:
    id: str
    status: str  # queued, running, succeeded, failed, canceled
    model: str | None = None
    task: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    attempts: int = 0
    timings: dict[str, Any] = field(default_factory=dict)
    output: list[Any] | None = None  # one item per input, present when succeeded
    error: str | None = None
    replayed: bool = False  # the server answered `Idempotent-Replayed: true` (the job existed already)
    data: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], *, replayed: bool = False) -> Job:
        return cls(
            id=str(data["id"]),
            status=str(data["status"]),
            model=data.get("model"),
            task=data.get("task"),
            created_at=data.get("created_at"),
            started_at=data.get("started_at"),
            finished_at=data.get("finished_at"),
            attempts=data.get("attempts") or 0,
            timings=data.get("timings") or {},
            output=data.get("output"),
            error=data.get("error"),
            replayed=replayed,
            data=data,
        )

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"
