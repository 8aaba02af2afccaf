"""The bearer-token check of the metrics endpoints, shared by the portal and the grading worker (no Flask here)."""
from __future__ import annotations

import hashlib
import hmac


def bearer_matches(header: str, expected: str) -> bool:
    """Return whether an Authorization header carries the expected bearer token (compared in constant time)."""
    scheme, _, given = header.partition(" ")
    # Digests first: equal lengths, so the comparison does not even tell the token's length.
    same = hmac.compare_digest(hashlib.sha256(given.strip().encode()).digest(),
                               hashlib.sha256(expected.encode()).digest())
    return bool(expected) and scheme.lower() == "bearer" and same
