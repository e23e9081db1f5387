"""Extensions, created unbound and attached to the app in create_app(); the database's shared
definitions (declarative base, constraint names, the UTC timestamp type, enum CHECKs) with them."""

from datetime import datetime, timezone
from enum import StrEnum

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import CheckConstraint, DateTime, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Named constraints so Alembic can alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


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


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, in_memory_fallback_enabled=True, swallow_errors=True)


def redis_client():
    """The app's Redis connection (a fakeredis one in tests without a real server)."""
    return current_app.extensions["redis"]
