"""API v1 payouts (managers and admins, as on the pages): list, read, record, reverse.

Every rule (the unpaid-balance cap, advances, open periods, one reversal per payout) is the payout
service's; this module translates JSON to its inputs and its results to JSON."""

from __future__ import annotations

from webapp.api.convert import cents_of, money
from webapp.api.framework import ApiError, decode_cursor, keyset_page, operation
from webapp.api.payout_schemas import (PaidOut, PaymentPlanOut, PayoutIn, PayoutOut, PayoutPage, PayoutQuery,
                                       PayPeriodIn, PlannedPayoutOut)
from webapp.api.schemas import ReasonIn
from webapp.auth import access
from webapp.auth.models import Role
from webapp.commissions import payouts
from webapp.commissions.period_payments import pay_period, period_payment_plan, plan_digest
from webapp.commissions.models import Payout
from webapp.extensions import db
from webapp.manage.periods import get_period
from webapp.operations import services as operations

MANAGERS = (Role.MANAGER, Role.ADMIN)


def _payout_out(payout: Payout, reversals: dict[int, int]) -> PayoutOut:
    """A payout for the API, its reversal (if any) looked up in bulk by the caller."""
    return PayoutOut(id=payout.id, agent_id=payout.agent_id, amount=money(payout.amount_cents),
                     paid_on=payout.paid_on, reference=payout.reference, advance=payout.advance,
                     reverses_id=payout.reverses_id, reversed_by_id=reversals.get(payout.id),
                     created_by_id=payout.created_by_id, created_at=payout.created_at)


def _one(payout: Payout) -> PayoutOut:
    """One payout for the API, read after its writes."""
    db.session.flush()
    return _payout_out(payout, payouts.reversals_of([payout.id]))


@operation("GET", "/payouts", summary="Payouts and reversals (managers: their team's; admins: all)",
           tag="Payouts", area="payouts", query=PayoutQuery, responses={200: PayoutPage}, roles=MANAGERS,
           errors=(404,))
def list_payouts(user, query: PayoutQuery):
    """Payouts the user may see, newest recorded first, filtered and paginated."""
    if query.agent_id is not None:
        access.visible_agent(user, query.agent_id)
    if query.start and query.end and query.end < query.start:
        raise ApiError(422, "The last day is before the first day.", {"end": "Before start."})
    filters = payouts.PayoutFilters(agent_id=query.agent_id, start=query.start, end=query.end)
    found = payouts.visible_payouts(user, filters, before_id=decode_cursor(query.cursor), limit=query.limit + 1)
    page, after = keyset_page(found, query.limit)
    reversals = payouts.reversals_of([p.id for p in page])
    return PayoutPage(items=[_payout_out(p, reversals) for p in page], next_cursor=after,
                      total=payouts.count_visible_payouts(user, filters) if query.include_total else None)


@operation("GET", "/payouts/{payout_id}", summary="One payout", tag="Payouts", area="payouts",
           responses={200: PayoutOut}, roles=MANAGERS)
def get_payout(user, payout_id: int):
    """A payout of the user's team (another team's: 404)."""
    return _one(access.visible_payout(user, payout_id))


@operation("POST", "/payouts", summary="Record a payout for an agent", tag="Payouts", area="payouts",
           body=PayoutIn, responses={201: PayoutOut}, roles=MANAGERS, write=True, errors=(404,))
def record_payout(user, body: PayoutIn):
    """Record a payout for an agent of the team, dated in an open period, capped at the unpaid
    balance unless it is an advance (another team's agent: 404)."""
    payout = payouts.record_payout(user, agent_id=body.agent_id, amount_cents=cents_of(body.amount, "amount"),
                                   paid_on=body.paid_on, reference=body.reference, advance=body.advance)
    return _one(payout), 201


@operation("POST", "/payouts/{payout_id}/reverse", summary="Reverse a payout, with a reason", tag="Payouts",
           area="payouts", body=ReasonIn, responses={201: PayoutOut}, roles=MANAGERS, write=True, errors=(409,))
def reverse_payout(user, payout_id: int, body: ReasonIn):
    """Reverse a payout with a counter-entry dated today; answers the reversal (a reversal, or a
    payout reversed already: 409)."""
    return _one(payouts.reverse_payout(user, access.visible_payout(user, payout_id), reason=body.reason)), 201


@operation("GET", "/periods/{period_id}/payment-plan", summary="What paying a closed period's statements would pay",
           tag="Payouts", area="payouts", responses={200: PaymentPlanOut}, roles=MANAGERS, errors=(409,))
def payment_plan(user, period_id: int):
    """Per agent of the team: the period's closing balance, what was paid since, the unpaid balance
    and what the run pays (an open period: 409)."""
    period = get_period(period_id)
    plan = period_payment_plan(user, period)
    return PaymentPlanOut(
        period_id=period.id, digest=plan_digest(period, plan), total=money(sum(p.amount for p in plan)),
        items=[PlannedPayoutOut(agent_id=p.agent.id, name=p.agent.name, closing=money(p.closing),
                                paid_since=money(p.paid_since), unpaid=money(p.unpaid), amount=money(p.amount))
               for p in plan])


@operation("POST", "/periods/{period_id}/pay", summary="Pay a closed period's statements, as planned",
           tag="Payouts", area="payouts", body=PayPeriodIn, responses={200: PaidOut}, roles=MANAGERS, write=True,
           errors=(409,))
def pay_closed_period(user, period_id: int, body: PayPeriodIn):
    """Record every planned payout, dated today with the period as reference; paying again pays
    nothing more (an open period, or amounts changed since the plan: 409). A large team is paid by
    a background operation."""
    made = pay_period(user, get_period(period_id), body.digest)
    started = operations.started()
    reversals = payouts.reversals_of([p.id for p in made])
    return PaidOut(items=[_payout_out(p, reversals) for p in made], operation_id=started.id if started else None)
