"""The SQL a call runs, as peewee logs it: for reading the plans of the statements a piece of code sends
(the scale benchmark's `explain`, the index tests). A statement run prepared (`PREPARE name AS ...`, then
`EXECUTE name (...)`) is given as the text it prepared, its `$n` back to `%s` in order, with the parameters
of its `EXECUTE`, so its plan reads as any other's."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

PREPARE = re.compile(r"\s*PREPARE (\w+) AS (.*)", re.DOTALL)
EXECUTE = re.compile(r"\s*EXECUTE (\w+)")


class Captured(logging.Handler):
    """The statements peewee executes (it logs each with its parameters at DEBUG)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.statements: list[tuple[str, object]] = []
        self.prepared: dict[str, str] = {}  # name -> its text with `%s`

    def emit(self, record: logging.LogRecord) -> None:
        if not (isinstance(record.msg, tuple) and len(record.msg) == 2):
            return
        sql, params = record.msg
        if prepared := PREPARE.match(sql):
            self.prepared[prepared[1]] = re.sub(r"\$\d+", "%s", prepared[2])
            return
        if (executed := EXECUTE.match(sql)) and executed[1] in self.prepared:
            sql = self.prepared[executed[1]]
        self.statements.append((sql, params))


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
