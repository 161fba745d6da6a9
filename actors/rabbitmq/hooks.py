"""What Dramatiq's broker and worker do around one message, over a chosen list of middleware.

`Broker.emit_before` and `Broker.emit_after` call every middleware the broker has; the dispatch path
(`actors.rabbitmq.dispatch`) leaves out those bound to a worker thread, so it calls the others' hooks here,
with the same semantics: before-hooks in order, a `MiddlewareError` (`SkipMessage` among them) propagating
and any other exception logged as critical; after-hooks in reverse order, every exception logged.
`log_failure` logs a failed message as `Worker.process_message` does
(docs/internals.md#the-dispatch-path-what-dramatiqs-worker-does-without-a-worker-thread).
"""

from __future__ import annotations

import logging

from dramatiq import Middleware, Retry
from dramatiq.middleware import MiddlewareError
from dramatiq.rate_limits import RateLimitExceeded

logger = logging.getLogger("actors.rabbitmq.dispatch")  # the dispatch path's: its lines read as one


def emit_before(broker, hooks: list[Middleware], message) -> None:
    """`Broker.emit_before("process_message", message)` over `hooks`."""
    for middleware in hooks:
        try:
            middleware.before_process_message(broker, message)
        except MiddlewareError:
            raise
        except Exception:
            logger.critical("Unexpected failure in before_process_message of %r.", middleware, exc_info=True)


def emit_after(broker, hooks: list[Middleware], signal: str, message, **kwargs) -> None:
    """`Broker.emit_after(signal, message, **kwargs)` over `hooks`, in reverse order."""
    for middleware in reversed(hooks):
        try:
            getattr(middleware, f"after_{signal}")(broker, message, **kwargs)
        except Exception:
            logger.critical("Unexpected failure in after_%s of %r.", signal, middleware, exc_info=True)


def log_failure(broker, message, error: BaseException) -> None:
    """As `Worker.process_message` logs a message that raised: a rate limit at debug, an exception the
    message or its actor `throws` (an expected one) at info, a `Retry` not at all, anything else as an
    error with its traceback."""
    actor = broker.actors.get(message.actor_name)
    throws = message.options.get("throws") or (actor and actor.options.get("throws"))
    if isinstance(error, RateLimitExceeded):
        logger.debug("Rate limit exceeded in message %s: %s.", message, error)
    elif throws and isinstance(error, throws):
        logger.info("Failed to process message %s with expected exception %s.", message, type(error).__name__)
    elif not isinstance(error, Retry):
        logger.error("Failed to process message %s with unhandled exception.", message, exc_info=error)
