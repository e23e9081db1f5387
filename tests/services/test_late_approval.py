"""A late approval is a flag on its ledger entry, written by the ledger and read by statements."""

from datetime import date

import pytest
from sqlalchemy import select

from webapp.commissions.adjustments import add_manual_adjustment
from webapp.commissions.models import CommissionEntry, EntryKind
from webapp.commissions.periods import close_period, period_for
from webapp.extensions import db
from webapp.sales.services import approve_sale, void_sale
from webapp.statements.services import period_snapshot


def d(day: int) -> date:
    return date(2026, 11, day)


def entries_of(agent) -> list[tuple]:
    """(period start day, kind, amount, late_approval, reason) of every entry, in id order."""
    db.session.expire_all()
    rows = db.session.scalars(select(CommissionEntry).where(CommissionEntry.agent_id == agent.id)
                              .order_by(CommissionEntry.id)).all()
    return [(e.period.start_date.day, e.kind, e.amount_cents, e.late_approval, e.reason) for e in rows]


@pytest.fixture
def agent(factory):
    agent = factory.user("agent")
    factory.assign(agent, factory.plan(base_rate="3"))
    return agent


@pytest.fixture
def late_sale(factory, agent, today):
    """A $1,000 sale of Nov 14, still pending when Nov 1-15 closed, approved on Nov 18."""
    today(d(14))
    sale = factory.sale(agent, "1000.00", d(14), approve=False)
    today(d(16))
    first_half = close_period(None, period_for(d(14)))
    today(d(18))
    approve_sale(agent.manager, sale)
    assert not first_half.is_open
    return sale


def test_a_sale_approved_after_its_period_closed_is_flagged_and_stated_as_late(agent, late_sale, today):
    assert entries_of(agent) == [
        (16, EntryKind.ADJUSTMENT, 3000, True, "Late approval of a sale dated 2026-11-14")]
    today(d(1).replace(month=12))
    second_half = close_period(None, period_for(d(18)))
    [item] = period_snapshot(agent, second_half)["adjustments"]
    assert (item["late_approval"], item["reason"]) == (True, "Late approval of a sale dated 2026-11-14")


def test_a_sale_approved_in_time_and_its_clawback_are_not_late_approvals(factory, agent, today):
    today(d(5))
    sale = factory.sale(agent, "1000.00", d(5))
    today(d(16))
    close_period(None, period_for(d(5)))
    today(d(18))
    void_sale(agent.manager, sale, "refunded")

    assert [(kind, late) for _, kind, _, late, _ in entries_of(agent)] == [
        (EntryKind.SALE, False), (EntryKind.ADJUSTMENT, False)]


def test_a_late_approval_voided_while_its_period_is_open_leaves_no_entry(agent, late_sale):
    [(_, _, _, late, _)] = entries_of(agent)
    assert late is True
    void_sale(agent.manager, late_sale, "entered twice")
    assert entries_of(agent) == []


def test_a_manual_entry_is_never_a_late_approval_whatever_its_reason_says(factory, agent, today):
    today(d(18))
    add_manual_adjustment(agent.manager, agent.id, 500, "Late approval bonus agreed by phone")
    today(d(1).replace(month=12))
    second_half = close_period(None, period_for(d(18)))

    assert entries_of(agent) == [(16, EntryKind.MANUAL, 500, False, "Late approval bonus agreed by phone")]
    [item] = period_snapshot(agent, second_half)["adjustments"]
    assert (item["kind"], item["late_approval"]) == (EntryKind.MANUAL, False)
