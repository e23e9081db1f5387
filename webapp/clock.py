""""Now" and "today" in the installation's time zone (one place, so tests can move time)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app


def now_utc() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def installation_zone() -> ZoneInfo:
    """The installation's TIMEZONE."""
    return ZoneInfo(current_app.config["TIMEZONE"])


def today() -> date:
    """Today's date in the installation's TIMEZONE (sale dates are plain dates in that zone)."""
    return now_utc().astimezone(installation_zone()).date()
