"""Who owns a job: a stable id of the API key that created it, never the key itself.

The id is the first 16 hex digits of the key's SHA-256: short enough to index, long enough that two keys
of one deployment never share it, and useless to anyone who reads the database. Without API keys
(embedded, development) every job has the owner `OPEN` and everything stays visible to every caller.
"""

from __future__ import annotations

import hashlib

OPEN = ""  # the owner of every job when no keys are configured (not NULL: unique indexes need a value)


def owner_id(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
