"""Personal API tokens, and the answers kept for Idempotency-Key retries."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, SmallInteger, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import UTCDateTime, db


class ApiToken(db.Model):
    """A token a user made for a script or a shop; shown once, stored only as its sha256.

    It acts with its user's role, narrowed to the areas its `scopes` grant ("sales:write
    ledger:read": read or write per area, an area left out has none), until `expires_on` (its
    last day, installation time; None: until revoked)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # sha256 of the token: tokens are 256 random bits, so a fast hash is enough (no brute force).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so people can tell their tokens apart in the list.
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(String(120))
    expires_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user = relationship("User")

    def level(self, area: str) -> str:
        """What the token may do in `area`: "write", "read" or "none"."""
        return next((grant.partition(":")[2] for grant in self.scopes.split() if grant.partition(":")[0] == area),
                    "none")

    def allows(self, area: str, write: bool) -> bool:
        """True when the token may read (or, with `write`, change) things of `area`."""
        return self.level(area) in (("write",) if write else ("read", "write"))

    def expired(self, today: date) -> bool:
        """True once its last day has passed."""
        return self.expires_on is not None and today > self.expires_on


class IdempotentAnswer(db.Model):
    """The first successful answer to an API POST sent with an Idempotency-Key, replayed to retries
    of the same request for a day (webapp/api/idempotency.py)."""

    __tablename__ = "api_idempotent_answers"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_api_idempotent_answers_user_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    # sha256 of the method, path and body: a retry must be the same request.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(SmallInteger)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
