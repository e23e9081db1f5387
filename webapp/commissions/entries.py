"""Ledger entries as lists: who may see which (agents their own, managers their team's, admins
all), filtered by agent, period, kind and sale, a keyset page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from webapp.auth import access
from webapp.commissions.models import CommissionEntry, Period
from webapp.extensions import db


@dataclass(frozen=True)
class EntryFilters:
    """One agent, the period holding a day, one kind, one sale: each optional."""

    agent_id: int | None = None
    period_of: date | None = None
    kind: str | None = None
    sale_id: int | None = None


def _visible_entries(user, filters: EntryFilters):
    """The query of the entries of the agents the user may see, filtered."""
    query = select(CommissionEntry).where(access.agent_scope(user, CommissionEntry.agent_id))
    if filters.agent_id is not None:
        query = query.where(CommissionEntry.agent_id == filters.agent_id)
    if filters.period_of is not None:
        query = query.where(CommissionEntry.period_id.in_(select(Period.id).where(
            Period.start_date <= filters.period_of, Period.end_date >= filters.period_of)))
    if filters.kind is not None:
        query = query.where(CommissionEntry.kind == filters.kind)
    if filters.sale_id is not None:
        query = query.where(CommissionEntry.sale_id == filters.sale_id)
    return query


def visible_entries(user, filters: EntryFilters, *, before_id: int | None = None,
                    limit: int = 50) -> list[CommissionEntry]:
    """Entries the user may see, newest first; only ids below `before_id` (a keyset page)."""
    query = _visible_entries(user, filters)
    if before_id is not None:
        query = query.where(CommissionEntry.id < before_id)
    return list(db.session.scalars(query.options(joinedload(CommissionEntry.period),
                                                 joinedload(CommissionEntry.spiff))
                                   .order_by(CommissionEntry.id.desc()).limit(limit)))


def count_visible_entries(user, filters: EntryFilters) -> int:
    """How many entries visible_entries would list over every page."""
    return db.session.scalar(select(func.count()).select_from(_visible_entries(user, filters).subquery()))
