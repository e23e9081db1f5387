"""How many statements on request a person may ask for in an hour (the admin's setting).

Each request is a render, an email and a statement number, so it is limited per person who
requests: an agent asking for their own statement, or a manager (admin) sending statements to
agents, where one send counts once however many agents it covers (a send is one deliberate act,
bounded by the team; counting each agent would make a team larger than the limit unsendable,
and counting per recipient would let an agent's own requests block the manager's send).

Counted from the database (ad-hoc runs the person started in the last hour), so the limit holds
across web workers and restarts, and checked under a lock on the requester's row in the
transaction that issues, so a burst of simultaneous requests cannot slip past it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from webapp import clock
from webapp.auth.models import User
from webapp.commissions.periods import get_settings
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.statements.models import StatementKind, StatementRun

WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Allowance:
    """A person's statement requests in the last hour against the limit."""

    limit: int
    used: int
    retry_after: int  # seconds until a request is free again (0 while some are left)

    @property
    def left(self) -> int:
        """Requests still possible now."""
        return max(self.limit - self.used, 0)

    @property
    def wait(self) -> str:
        """How long until a request is free again, in words."""
        return wait_text(self.retry_after)


class TooManyRequests(ServiceError):
    """The requester has used the hour's statement requests; `retry_after` says for how long."""

    def __init__(self, allowance: Allowance):
        super().__init__(f"You have made {allowance.limit} statement requests in the last hour, the most "
                         f"allowed. Try again in {wait_text(allowance.retry_after)}.", status=429)
        self.allowance = allowance
        self.retry_after = allowance.retry_after


def wait_text(seconds: int) -> str:
    """A wait in words: "40 seconds", "1 minute", "12 minutes"."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def allowance(user: User) -> Allowance:
    """The user's statement requests in the last hour, the limit, and when the next one frees up."""
    limit = get_settings().statement_requests_per_hour
    now = clock.now_utc()
    times = list(db.session.scalars(
        select(StatementRun.created_at).where(StatementRun.requested_by_id == user.id,
                                              StatementRun.kind == StatementKind.ADHOC,
                                              StatementRun.created_at > now - WINDOW)
        .order_by(StatementRun.created_at)))
    retry_after = 0
    if len(times) >= limit:
        # A request is free again once enough have left the window (the oldest one, unless the
        # limit was lowered meanwhile).
        frees_at = times[len(times) - limit] + WINDOW
        retry_after = max(1, math.ceil((frees_at - now).total_seconds()))
    return Allowance(limit=limit, used=len(times), retry_after=retry_after)


def lock_requester(user: User) -> None:
    """Serialise one person's statement requests (SELECT ... FOR UPDATE on their row), so the
    count and the new run are one step; SQLite's BEGIN IMMEDIATE already serialises writers."""
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())


def check_allowance(user: User) -> None:
    """Refuse (429) a request beyond the hour's limit; call under lock_requester."""
    current = allowance(user)
    if current.left == 0:
        raise TooManyRequests(current)
