"""The SQL a call runs, as peewee logs it: for reading the plans of the statements a piece of code sends
(the scale benchmark's `explain`, the index tests)."""

from __future__ import annotations

import logging
from collections.abc import Callable


class Captured(logging.Handler):
    """The statements peewee executes (it logs each with its parameters at DEBUG)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.statements: list[tuple[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, tuple) and len(record.msg) == 2:
            self.statements.append(record.msg)


def statements(call: Callable[[], object]) -> list[tuple[str, object]]:
    """The statements `call` runs, with their parameters."""
    logger, handler = logging.getLogger("peewee"), Captured()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        call()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return handler.statements
