"""The one error tree. Every domain error derives from InferenceError; `web` maps them to HTTP once."""


class InferenceError(Exception):
    """Base of every error this project raises on purpose: a `title` per kind, a `description` per case."""

    title = "Inference error"

    def __init__(self, description: str = ""):
        super().__init__(description)
        self.description = description


class ConfigError(InferenceError):
    """An environment variable holds a value we cannot use; the message names the variable. Raised at start,
    before anything is served: the process says so and exits."""

    title = "Configuration error"


class CatalogError(ConfigError):
    """The model catalog is invalid, or names a source that is not installed; the message names the entry
    and the field."""

    title = "Invalid model catalog"


class InvalidRequest(InferenceError):
    """The client sent something we will not accept (422 unless a subclass says otherwise)."""

    title = "Invalid request"

    def __init__(self, description: str, *, field: str | None = None):
        super().__init__(description)
        self.field = field


class PayloadTooLarge(InvalidRequest):
    title = "Payload too large"


class ModelNotServed(InvalidRequest):
    """A request names a catalog model that this deployment has not prepared: refused at once (422 on
    `model`, code `model_not_prepared`), never accepted to fail on a worker."""

    title = "Model not prepared"
    code = "model_not_prepared"

    def __init__(self, name: str):
        super().__init__(
            f"model {name!r} is in the catalog but not prepared here: run `inference-api models prepare {name}` "
            "(GET /models says which models are prepared and ready)",
            field="model",
        )


class NotFound(InferenceError):
    title = "Not found"


class UnknownModel(NotFound):
    title = "Unknown model"


class JobNotFound(NotFound):
    title = "Unknown job"


class Unavailable(InferenceError):
    """A dependency (database, broker) is down; the client may retry later."""

    title = "Service unavailable"

    def __init__(self, description: str, *, retry_after: int = 5):
        super().__init__(description)
        self.retry_after = retry_after


class Overloaded(Unavailable):
    """Too much work already waiting: the client should come back later (429)."""

    title = "Too many requests"


class Conflict(InferenceError):
    """The request cannot apply to the resource in its current state (409)."""

    title = "Conflict"


class ModelError(InferenceError):
    """A model could not run on an input; fails that job at once, no retry."""

    title = "Model error"


class ModelNotPrepared(ModelError):
    title = "Model not prepared"


class TimeBoundExceeded(InferenceError):
    """Work ran past its time bound before it reached a job: transient, the job's message is retried."""

    title = "Time bound exceeded"


class ModelUnavailable(Unavailable):
    """A prepared model could not be loaded on a worker (a file missing or damaged, ONNX Runtime's error, no
    memory): the worker's fault, not the job's, so its message is retried; the library's message (paths
    included) goes to the worker's log, never to a client."""

    title = "Model unavailable"
