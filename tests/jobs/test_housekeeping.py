"""The heartbeat job records when the worker last ran something."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs.housekeeping import HEARTBEAT_KEY, heartbeat
from webapp.extensions import redis_client


def test_heartbeat_records_the_current_utc_time(app):
    with app.app_context():
        try:
            stamp = heartbeat()
            stored = redis_client().get(HEARTBEAT_KEY)
        finally:
            redis_client().delete(HEARTBEAT_KEY)  # the app's Redis may be the shared TEST_REDIS_URL

    assert stored.decode() == stamp
    recorded = datetime.fromisoformat(stamp)
    assert recorded.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - recorded) < timedelta(seconds=5)
