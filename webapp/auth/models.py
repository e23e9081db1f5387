"""User accounts."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import UTCDateTime, db, enum_check


class Role(StrEnum):
    """What a user may do; stored as its value."""

    ADMIN = "admin"
    MANAGER = "manager"
    AGENT = "agent"


def _new_session_token() -> str:
    """A random token; changing it ends every session of the user."""
    return secrets.token_hex(16)


class User(UserMixin, db.Model):
    """A person who signs in: an admin, a manager, or an agent on a manager's team."""

    __tablename__ = "users"
    __table_args__ = (
        enum_check("role", Role, name="role_known"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased (and checked), so the unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    session_token: Mapped[str] = mapped_column(String(32), default=_new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())

    manager: Mapped[User | None] = relationship(remote_side=[id], back_populates="team")
    team: Mapped[list[User]] = relationship(back_populates="manager", order_by="User.name")

    @property
    def is_active(self) -> bool:
        """Flask-Login refuses inactive users, which ends their sessions at once."""
        return self.active

    def get_id(self) -> str:
        """Session id: the user id plus the session token, so a token change signs them out."""
        return f"{self.id}:{self.session_token}"

    def rotate_session_token(self) -> None:
        """End every open session of this user."""
        self.session_token = _new_session_token()

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"
