"""`Client`: submit, get, wait and run jobs over HTTP, with timeouts and bounded retries.

Retries cover what the API says is transient: 429 (backlog full) and 503 (database or broker down),
after their `Retry-After`, plus connection failures and the 502/504 of a proxy in front. A POST is only
retried with an `Idempotency-Key`; `submit` always sends one (a fresh one when the caller gives none), so
a retry can never create a second job.
"""

from __future__ import annotations

import email.utils
import math
import os
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from inference_client import __version__
from inference_client.errors import APIError, JobFailed, JobTimeout, TransportError, error_for
from inference_client.job import Job

DEFAULT_URL = "http://localhost:8000"
MAX_WAIT = 60  # the API's cap on `Prefer: wait` and `?wait`
RETRY_STATUSES = frozenset({429, 502, 503, 504})


class Client:
    """A connection pool to one Inference API. Thread-safe; use it as a context manager or `close()` it.

    `base_url` defaults to `INFERENCE_API_URL` (else http://localhost:8000) and `api_key` to
    `INFERENCE_API_KEY` (sent as `Authorization: Bearer <key>`). `timeout` bounds each request, on top of
    the time it asked the server to wait; `max_retries` bounds the retries of one call, and no single pause
    is longer than `max_retry_wait` seconds whatever `Retry-After` says.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        max_retry_wait: float = 60.0,
        max_connections: int = 20,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = (base_url or os.environ.get("INFERENCE_API_URL") or DEFAULT_URL).rstrip("/")
        api_key = api_key if api_key is not None else os.environ.get("INFERENCE_API_KEY") or None
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self._sleep = sleep
        headers = {"User-Agent": f"inference-api-client/{__version__}", "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # The API.

    def submit(
        self,
        inputs: str | list[str] | dict[str, Any],
        *,
        model: str | None = None,
        parameters: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        wait: int | None = None,
    ) -> Job:
        """POST /inference. With `wait` (seconds, at most 60) the server answers with the finished job
        if it finishes within that time; otherwise the job comes back queued or running."""
        body: dict[str, Any] = {"inputs": inputs}
        if model is not None:
            body["model"] = model
        if parameters is not None:
            body["parameters"] = parameters
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        seconds = _wait_seconds(wait)
        if seconds:
            headers["Prefer"] = f"wait={seconds}"
        response = self._request("POST", "/inference", json=body, headers=headers, waits=seconds)
        return Job.from_json(response.json(), replayed=response.headers.get("Idempotent-Replayed") == "true")

    def get(self, job: str | Job, *, wait: int | None = None) -> Job:
        """GET /inference/{id}; with `wait` the server holds the answer up to that many seconds (at most
        60) for the job to finish."""
        seconds = _wait_seconds(wait)
        params = {"wait": seconds} if seconds else None
        response = self._request("GET", f"/inference/{_job_id(job)}", params=params, waits=seconds)
        return Job.from_json(response.json())

    def wait(self, job: str | Job, *, timeout: float = 300.0, poll: int = 30) -> Job:
        """The job once finished (succeeded, failed or canceled), long-polling `?wait=` in steps of at most
        `poll` seconds; `JobTimeout` after `timeout` seconds."""
        if isinstance(job, Job) and job.finished:
            return job
        job_id = _job_id(job)
        deadline = time.monotonic() + timeout
        pause = 0.05
        while True:
            remaining = deadline - time.monotonic()
            step = max(1, min(poll, MAX_WAIT, math.ceil(remaining)))
            asked = time.monotonic()
            current = self.get(job_id, wait=step if remaining > 0 else None)
            if current.finished:
                return current
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise JobTimeout(current, timeout)
            if time.monotonic() - asked < step / 2:
                # Answered early and unfinished: the server had no waiting slot free (or ignores ?wait).
                self._sleep(min(pause, remaining))
                pause = min(pause * 2, 2.0)

    def run(
        self,
        inputs: str | list[str] | dict[str, Any],
        *,
        model: str | None = None,
        parameters: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        timeout: float = 300.0,
    ) -> Job:
        """Submit and wait: the succeeded job (its `output` aligned with `inputs`). Raises `JobFailed` if it
        failed or was canceled, `JobTimeout` if it is not finished within `timeout` seconds."""
        started = time.monotonic()
        job = self.submit(
            inputs,
            model=model,
            parameters=parameters,
            idempotency_key=idempotency_key,
            wait=min(MAX_WAIT, max(1, int(timeout))),
        )
        if not job.finished:
            job = self.wait(job, timeout=max(0.0, timeout - (time.monotonic() - started)))
        if not job.succeeded:
            raise JobFailed(job)
        return job

    def cancel(self, job: str | Job) -> Job:
        """POST /inference/{id}/cancel; `Conflict` if the job has already finished."""
        return Job.from_json(self._request("POST", f"/inference/{_job_id(job)}/cancel").json())

    def ping(self, *, retries: int = 1) -> None:
        """GET /healthz: returns when the API answers, `TransportError` or `APIError` when it does not."""
        self._request("GET", "/healthz", retries=retries)

    # One request, retried.

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        waits: int = 0,
        retries: int | None = None,
    ) -> httpx.Response:
        retries = self.max_retries if retries is None else retries
        timeout = httpx.Timeout(self.timeout, read=self.timeout + waits)
        for attempt in range(retries + 1):
            try:
                response = self._http.request(method, path, json=json, headers=headers, params=params, timeout=timeout)
            except httpx.TransportError as e:
                if attempt >= retries:
                    raise TransportError(f"{method} {self.base_url}{path}: {_describe(e)}") from e
                delay = _backoff(attempt)
            else:
                if response.status_code < 400:
                    return response
                error = _error(response)
                if response.status_code not in RETRY_STATUSES or attempt >= retries:
                    raise error
                delay = error.retry_after if error.retry_after is not None else _backoff(attempt)
            self._sleep(min(delay, self.max_retry_wait))
        raise AssertionError("unreachable")


def _job_id(job: str | Job) -> str:
    return job.id if isinstance(job, Job) else str(job)


def _wait_seconds(wait: float | None) -> int:
    return 0 if not wait or wait <= 0 else min(MAX_WAIT, math.ceil(wait))


def _backoff(attempt: int) -> float:
    """0.5, 1, 2, 4 ... 10 s, with jitter so that many clients do not come back in step."""
    return min(10.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0)


def _describe(e: httpx.TransportError) -> str:
    return str(e) or type(e).__name__


def retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds: delta-seconds or an HTTP date (RFC 9110); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error(response: httpx.Response) -> APIError:
    try:
        body = response.json()
    except ValueError:
        body = None
    title, description, field = "", response.text.strip()[:500] or response.reason_phrase, None
    if isinstance(body, dict):
        title = str(body.get("title") or "")
        description = str(body.get("description") or title or description)
        field = body.get("field")
    return error_for(response.status_code)(
        description,
        status=response.status_code,
        title=title,
        field=field,
        retry_after=retry_after(response.headers.get("Retry-After")),
        body=body,
    )
