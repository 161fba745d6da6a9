"""Who owns a job: a stable id of the API key that created it, never the key itself.

The id is the first 16 hex digits of the key's SHA-256: short enough to index, long enough that two keys
of one deployment never share it, and useless to anyone who reads the database. Without API keys
(embedded, development) every job has the owner `OPEN` and everything stays visible to every caller.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

OPEN = ""  # the owner of every job when no keys are configured (not NULL: unique indexes need a value)


def owner_id(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def webhook_secret(base: str, owner: str) -> str:
    """The secret that signs `owner`'s webhooks: `base` (WEBHOOK_SECRET) itself when keys are off, else one
    derived for that owner (HMAC-SHA256 of its id under `base`), so that no tenant can verify, or forge,
    another tenant's calls. A tenant reads its own with GET /webhooks/secret; rotating `base` rotates all."""
    if owner == OPEN:
        return base
    encoded = base.removeprefix("whsec_").rstrip("=")
    key = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    derived = hmac.new(key, f"inference-api webhook secret:{owner}".encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(derived).decode()
