"""API v1 pay periods (managers and admins, as on the periods page): list, what a close freezes,
close. Closing is the periods service's, with its rules (ended, in order, once)."""

from __future__ import annotations

from webapp.api.convert import money
from webapp.api.framework import operation
from webapp.api.period_schemas import AgentFreezeOut, ClosePreviewOut, PendingSaleOut, PeriodList, PeriodOut
from webapp.auth.models import Role
from webapp.manage import periods

MANAGERS = (Role.MANAGER, Role.ADMIN)


def _period_out(row: periods.PeriodRow) -> PeriodOut:
    """A period row of the list for the API."""
    period = row.period
    return PeriodOut(id=period.id, start=period.start_date, end=period.end_date, label=period.label,
                     status=period.status, closed_at=period.closed_at, closed_by=row.closed_by,
                     entries=row.entries, commission=money(row.total_cents), blocker=row.blocker)


def _row(user, period_id: int) -> periods.PeriodRow:
    """The list's row of one period (unknown: 404)."""
    period = periods.get_period(period_id)
    return next(row for row in periods.list_periods(user) if row.period.id == period.id)


@operation("GET", "/periods", summary="Pay periods, newest first, with your team's ledger in each",
           tag="Periods", area="ledger", responses={200: PeriodList}, roles=MANAGERS)
def list_periods(user):
    """Every period with the user's team's entries and commission, and whether it can close now."""
    return PeriodList(items=[_period_out(row) for row in periods.list_periods(user)])


@operation("GET", "/periods/{period_id}/close-preview", summary="What closing the period would freeze",
           tag="Periods", area="ledger", responses={200: ClosePreviewOut}, roles=MANAGERS)
def close_preview(user, period_id: int):
    """Per agent of the team: entries and commission frozen, volume, pending sales that would
    become late approvals; and why it cannot close, if it cannot."""
    preview = periods.preview(user, periods.get_period(period_id))
    return ClosePreviewOut(
        period=_period_out(_row(user, period_id)), team_only=preview.team_only, blocker=preview.blocker,
        grace_until=preview.grace_until,
        agents=[AgentFreezeOut(agent_id=a.agent_id, name=a.name, entries=a.entries, commission=money(a.total_cents),
                               volume=money(a.volume_cents), pending=a.pending,
                               pending_amount=money(a.pending_cents)) for a in preview.agents],
        pending_sales=[PendingSaleOut(id=s.id, agent_name=s.agent_name, sold_on=s.sold_on,
                                      product_name=s.product_name, amount=money(s.amount_cents))
                       for s in preview.pending_sales])


@operation("POST", "/periods/{period_id}/close", summary="Close a pay period for every team", tag="Periods",
           area="ledger", responses={200: PeriodOut}, roles=MANAGERS, write=True, errors=(409,))
def close_period(user, period_id: int):
    """Freeze the period's entries for everyone; later changes post to the next open period (not
    ended, an earlier one still open, or closed already: 409 with the reason)."""
    periods.close(user, period_id)
    return _period_out(_row(user, period_id))
