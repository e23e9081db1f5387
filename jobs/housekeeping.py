"""Housekeeping jobs: the heartbeat that shows the scheduler -> queue -> worker pipeline is alive."""

from __future__ import annotations

from datetime import UTC, datetime

from jobs import app_context

# /healthz will read this key; the webapp cannot import `jobs`, so when it does, this constant
# should move to the webapp and be imported from there.
HEARTBEAT_KEY = "salestracking:worker:heartbeat"


def heartbeat() -> str:
    """Record the current UTC time (ISO 8601) under HEARTBEAT_KEY and return it."""
    from webapp.extensions import redis_client

    with app_context():
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        # No expiry: a stale time says more to an operator (since when?) than a missing key.
        redis_client().set(HEARTBEAT_KEY, stamp)
    return stamp
