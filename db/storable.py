"""What a job's output may hold to be saved: PostgreSQL's `jsonb` refuses the NUL character (U+0000) in any
string, so an output holding one is the job's own failure, found before the save, never a failed save
that reads as a database outage (and retries the whole batch)."""

from __future__ import annotations

from typing import Any

NUL = "\x00"


def unstorable(output: Any) -> str | None:
    """Why `output` cannot be saved, or None. Lists of numbers (embeddings) are passed over at once."""
    if isinstance(output, str):
        return "its output holds a NUL character (U+0000), which the database cannot store" if NUL in output else None
    if isinstance(output, dict):
        return next((why for value in output.values() if (why := unstorable(value))), None)
    if isinstance(output, list | tuple):
        if output and isinstance(output[0], int | float):
            return None
        return next((why for value in output if (why := unstorable(value))), None)
    return None
