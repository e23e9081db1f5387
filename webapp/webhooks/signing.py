"""Signing a delivery, and checking one as a receiver should.

The header is `Sales-Tracking-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`, the HMAC keyed with
the endpoint's secret over "<t>.<raw body>". Signing the time with the body lets a receiver refuse
a captured delivery replayed later: it accepts a signature only within TOLERANCE of its own clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "Sales-Tracking-Signature"
TOLERANCE = 5 * 60  # seconds a receiver should accept a signature for (the replay window)


def new_secret() -> str:
    """A fresh signing secret (256 random bits)."""
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of "<timestamp>.<body>" under `secret`."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header's value for `body`, signed now (or at `timestamp`)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, body: bytes, value: str | None, *, now: float | None = None,
           tolerance: int = TOLERANCE) -> bool:
    """True when the header `value` signs `body` with `secret` within `tolerance` seconds of `now`."""
    parts = dict(part.split("=", 1) for part in (value or "").split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), parts.get("v1", ""))
