"""COMMISSION_RULES.md section 7, examples A-F, through the services and the database."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from webapp.commissions import ledger
from webapp.commissions.models import CommissionEntry, EntryKind
from webapp.commissions.periods import close_period, period_for
from webapp.extensions import db
from webapp.money import from_cents
from webapp.sales.services import approve_sale, void_sale

NOV = date(2026, 11, 1)


def d(day: int) -> date:
    return date(2026, 11, day)


def entries_of(agent):
    """(period start day, kind, sale id, amount) for every entry of the agent."""
    rows = db.session.scalars(select(CommissionEntry).where(CommissionEntry.agent_id == agent.id)
                              .order_by(CommissionEntry.id)).all()
    return sorted((e.period.start_date.day, e.kind, e.sale_id, from_cents(e.amount_cents)) for e in rows)


def money(text: str) -> Decimal:
    return Decimal(text)


@pytest.fixture
def agent(factory):
    return factory.user("agent")


def test_a_clawback_after_the_period_is_stated(factory, agent, today):
    factory.assign(agent, factory.plan(base_rate="3"))
    today(d(5))
    s1 = factory.sale(agent, "10000.00", d(5))
    today(d(16))
    first_half = period_for(d(5))
    close_period(None, first_half)
    assert ledger.period_summary(agent.id, first_half).earned == 30000
    today(d(20))
    void_sale(agent.manager, s1, "customer refunded")
    second_half = period_for(d(20))
    summary = ledger.period_summary(agent.id, second_half)
    assert entries_of(agent) == [(1, EntryKind.SALE, s1.id, money("300.00")),
                                 (16, EntryKind.ADJUSTMENT, s1.id, money("-300.00"))]
    assert (summary.adjustments, summary.total) == (-30000, -30000)
    assert summary.opening == 30000
    assert summary.closing == summary.opening + summary.total - summary.payouts == 0


def test_b_retroactive_true_up_and_its_reversal(factory, agent, today):
    factory.assign(agent, factory.plan(tiers=[("0", "3"), ("10000", "5")], tier_mode="retroactive"))
    today(d(3))
    first = factory.sale(agent, "6000.00", d(3))
    today(d(16))
    close_period(None, period_for(d(3)))
    today(d(20))
    second = factory.sale(agent, "6000.00", d(20))
    assert entries_of(agent) == [(1, EntryKind.SALE, first.id, money("180.00")),
                                 (16, EntryKind.ADJUSTMENT, first.id, money("120.00")),
                                 (16, EntryKind.SALE, second.id, money("300.00"))]
    november = sum(amount for *_, amount in entries_of(agent))
    assert november == money("600.00") == money("12000.00") * 5 / 100
    void_sale(agent.manager, second, "cancelled order")
    assert entries_of(agent) == [(1, EntryKind.SALE, first.id, money("180.00"))]


def test_c_plan_change_mid_month(factory, agent, today):
    today(d(26))
    factory.assign(agent, factory.plan(base_rate="3"), effective_from=date(2026, 1, 1), effective_to=d(15))
    factory.assign(agent, factory.plan(base_rate="4"), effective_from=d(16))
    on_15 = factory.sale(agent, "1000.00", d(15))
    on_16 = factory.sale(agent, "1000.00", d(16))
    assert {sale_id: amount for *_, sale_id, amount in entries_of(agent)} == {
        on_15.id: money("30.00"), on_16.id: money("40.00")}


@pytest.mark.parametrize("pending_day, own_estimate", [(12, "230.00"), (5, "150.00")])
def test_d_pending_sales_do_not_count(factory, agent, today, pending_day, own_estimate):
    factory.assign(agent, factory.plan(tiers=[("0", "3"), ("10000", "5")], tier_mode="marginal"))
    today(d(20))
    approved = factory.sale(agent, "9000.00", d(10))
    pending = factory.sale(agent, "5000.00", d(pending_day), approve=False)
    assert entries_of(agent) == [(1, EntryKind.SALE, approved.id, money("270.00"))]
    assert ledger.sale_estimate(pending) == money(own_estimate)
    assert ledger.pending_total(agent.id, NOV) == money("230.00")


def test_e_marginal_void_moves_later_sales_brackets(factory, agent, today):
    factory.assign(agent, factory.plan(tiers=[("0", "3"), ("10000", "5")], tier_mode="marginal"))
    today(d(3))
    early = factory.sale(agent, "8000.00", d(3))
    today(d(16))
    close_period(None, period_for(d(3)))
    today(d(20))
    late = factory.sale(agent, "4000.00", d(20))
    assert entries_of(agent) == [(1, EntryKind.SALE, early.id, money("240.00")),
                                 (16, EntryKind.SALE, late.id, money("160.00"))]
    today(d(22))
    void_sale(agent.manager, early, "returned")
    assert entries_of(agent) == [(1, EntryKind.SALE, early.id, money("240.00")),
                                 (16, EntryKind.ADJUSTMENT, early.id, money("-240.00")),
                                 (16, EntryKind.SALE, late.id, money("120.00"))]


def test_f_late_approval_posts_in_the_open_period(factory, agent, today):
    factory.assign(agent, factory.plan(base_rate="3"))
    today(d(14))
    sale = factory.sale(agent, "1000.00", d(14), approve=False)
    today(d(16))
    close_period(None, period_for(d(14)))
    today(d(18))
    approve_sale(agent.manager, sale)
    [entry] = db.session.scalars(select(CommissionEntry).where(CommissionEntry.agent_id == agent.id)).all()
    assert (entry.kind, entry.period.start_date, from_cents(entry.amount_cents)) == (
        EntryKind.ADJUSTMENT, d(16), money("30.00"))
    assert "Late approval" in entry.reason and "2026-11-14" in entry.reason
    # November's tier volume includes it: the month's approved lines carry the sale.
    assert [s.id for s in ledger.month_sales(agent.id, NOV, ("approved",))] == [sale.id]
