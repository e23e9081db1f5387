"""Column types and constraint helpers shared by the models (a leaf module: SQLAlchemy only)."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """A point in time: stored as `timestamp with time zone`, always an aware UTC datetime in Python.

    SQLite keeps no zone and hands back naive datetimes; they are UTC (what we store, and what its
    CURRENT_TIMESTAMP gives), so the zone is attached here once instead of in every reader. A naive
    datetime on the way in is refused: its zone is unknown, and SQLite would store its wall time
    as if it were UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        """Refuse a naive datetime; convert an aware one to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must carry a time zone")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        """The stored instant as an aware UTC datetime (SQLite's naive values are UTC)."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def enum_check(column: str, kinds: type[StrEnum], name: str) -> CheckConstraint:
    """CHECK that `column` holds one of the enum's values (the members' order, as migrated)."""
    values = ", ".join(f"'{member}'" for member in kinds)
    return CheckConstraint(f"{column} IN ({values})", name=name)
