"""API v1 ledger: entries (agents their own, managers their team's, admins all; by agent, period,
kind and sale) and manual adjustments (managers and admins), with the adjustment service's rules."""

from __future__ import annotations

from webapp.api.convert import entry_fields
from webapp.api.framework import ApiError, decode_cursor, keyset_page, operation
from webapp.api.schemas import AdjustmentIn, LedgerEntryOut, LedgerPage, LedgerQuery
from webapp.auth import access
from webapp.auth.models import Role
from webapp.commissions import entries
from webapp.commissions.adjustments import add_manual_adjustment
from webapp.extensions import db
from webapp.money import MoneyError, parse_signed_money, to_cents

MANAGERS = (Role.MANAGER, Role.ADMIN)


def _ledger_out(entry) -> LedgerEntryOut:
    """A ledger entry for the API."""
    return LedgerEntryOut(**entry_fields(entry), sale_id=entry.sale_id, created_by_id=entry.created_by_id,
                          created_at=entry.created_at)


@operation("GET", "/ledger", summary="Ledger entries (agents: their own; managers: their team's; admins: all)",
           tag="Ledger", area="ledger", query=LedgerQuery, responses={200: LedgerPage}, errors=(404,))
def list_entries(user, query: LedgerQuery):
    """Entries the user may see, newest first, filtered and paginated."""
    if query.agent_id is not None:
        access.own_or_managed_agent(user, query.agent_id)
    filters = entries.EntryFilters(agent_id=query.agent_id, period_of=query.period_of, kind=query.kind,
                                   sale_id=query.sale_id)
    found = entries.visible_entries(user, filters, before_id=decode_cursor(query.cursor), limit=query.limit + 1)
    page, after = keyset_page(found, query.limit)
    return LedgerPage(items=[_ledger_out(e) for e in page], next_cursor=after,
                      total=entries.count_visible_entries(user, filters) if query.include_total else None)


@operation("POST", "/ledger/adjustments", summary="Post a manual correction to an agent's ledger",
           tag="Ledger", area="ledger", body=AdjustmentIn, responses={201: LedgerEntryOut}, roles=MANAGERS,
           write=True, errors=(404, 409))
def create_adjustment(user, body: AdjustmentIn):
    """A signed, non-zero correction with a reason, in today's period, for an agent of the team
    (another team's agent: 404); it shows on the agent's statement."""
    try:
        amount_cents = to_cents(parse_signed_money(body.amount))
    except MoneyError as exc:
        raise ApiError(422, str(exc), {"amount": str(exc)}) from exc
    entry = add_manual_adjustment(user, body.agent_id, amount_cents, body.reason, sale_id=body.sale_id)
    db.session.refresh(entry)
    return _ledger_out(entry), 201
