"""Python client of the Inference API: `Client` (submit, get, wait, run) and the `submit` command line."""

__version__ = "0.1.0"

from inference_client.client import Client
from inference_client.errors import (
    APIError,
    BadRequest,
    ClientError,
    Conflict,
    Gone,
    InvalidRequest,
    JobFailed,
    JobTimeout,
    NotFound,
    PayloadTooLarge,
    ServerError,
    ServiceUnavailable,
    TooManyRequests,
    TransportError,
    Unauthorized,
    UnsupportedMediaType,
)
from inference_client.job import Job

__all__ = [
    "APIError",
    "BadRequest",
    "Client",
    "ClientError",
    "Conflict",
    "Gone",
    "InvalidRequest",
    "Job",
    "JobFailed",
    "JobTimeout",
    "NotFound",
    "PayloadTooLarge",
    "ServerError",
    "ServiceUnavailable",
    "TooManyRequests",
    "TransportError",
    "Unauthorized",
    "UnsupportedMediaType",
    "__version__",
]
