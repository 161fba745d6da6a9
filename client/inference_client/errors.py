"""The client's one error tree, rooted in `ClientError`, mirroring the API's HTTP contract."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inference_client.job import Job


class ClientError(Exception):
    """Base of every error this package raises on purpose."""


class TransportError(ClientError):
    """The server could not be reached or the connection failed (after the retries)."""


class APIError(ClientError):
    """The API answered with an error status; `title`, `description` and `field` come from its JSON body."""

    status: int = 0

    def __init__(
        self,
        description: str,
        *,
        status: int | None = None,
        title: str = "",
        field: str | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ):
        super().__init__(description)
        if status is not None:
            self.status = status
        self.title = title
        self.description = description
        self.field = field
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        where = f" ({self.field})" if self.field else ""
        title = f"{self.title}: " if self.title else ""
        return f"{self.status} {title}{self.description}{where}"


class BadRequest(APIError):
    status = 400  # malformed JSON


class Unauthorized(APIError):
    status = 401  # missing or bad API key


class NotFound(APIError):
    status = 404  # unknown job (or route)


class Gone(APIError):
    status = 410  # a job deleted (DELETE) or purged (after the server's RESULT_TTL): its result is gone


class Conflict(APIError):
    status = 409  # e.g. canceling a finished job


class PayloadTooLarge(APIError):
    status = 413


class UnsupportedMediaType(APIError):
    status = 415


class InvalidRequest(APIError):
    status = 422  # an invalid field, named in `field` (`inputs[1]`, `model`, `parameters.normalize`, ...)


class TooManyRequests(APIError):
    status = 429  # backlog full; retried after `Retry-After`


class ServiceUnavailable(APIError):
    status = 503  # database or broker down; retried after `Retry-After`


class ServerError(APIError):
    """Any other 5xx (the API promises none, but a proxy in front of it may answer one)."""


class JobTimeout(ClientError):
    """The job did not finish within the time the caller allowed; `job` is how it stood last."""

    def __init__(self, job: Job, timeout: float):
        super().__init__(f"job {job.id} still {job.status} after {timeout:g} s")
        self.job = job
        self.timeout = timeout


class JobFailed(ClientError):
    """`Client.run` found the job failed or canceled; `job.error` says why."""

    def __init__(self, job: Job):
        super().__init__(f"job {job.id} {job.status}: {job.error or 'no reason given'}")
        self.job = job


BY_STATUS: dict[int, type[APIError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        NotFound,
        Gone,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        InvalidRequest,
        TooManyRequests,
        ServiceUnavailable,
    )
}


def error_for(status: int) -> type[APIError]:
    return BY_STATUS.get(status) or (ServerError if status >= 500 else APIError)
