"""Manual adjustments (webapp.commissions.adjustments): a signed correction with a reason, posted in
today's open period, audited, and never touched by the ledger's recompute."""

from datetime import date

import pytest
from sqlalchemy import func, select

from webapp.audit.models import AuditEvent
from webapp.commissions import ledger
from webapp.commissions.adjustments import add_manual_adjustment
from webapp.commissions.models import CommissionEntry, EntryKind
from webapp.commissions.periods import close_period, period_for
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.sales.services import approve_sale, void_sale

TODAY = date(2026, 11, 20)


def _counts() -> tuple[int, int]:
    """(ledger entries, audit events)."""
    return (db.session.scalar(select(func.count()).select_from(CommissionEntry)),
            db.session.scalar(select(func.count()).select_from(AuditEvent)))


@pytest.fixture
def world(build, factory):
    """An agent on a flat 3% plan with one approved sale, today Nov 20 2026."""
    build.on(TODAY)
    agent = build.agent("Ada Agent")
    sale = factory.sale(agent, "1000.00", date(2026, 11, 18))
    return agent, sale


def test_an_adjustment_is_a_manual_entry_in_todays_period_and_is_audited(world):
    agent, _ = world
    manager = agent.manager
    entry = add_manual_adjustment(manager, agent.id, -2500, "  Duplicate bonus paid in October  ")
    assert (entry.kind, entry.amount_cents, entry.reason, entry.sale_id) == (
        EntryKind.MANUAL, -2500, "Duplicate bonus paid in October", None)
    assert entry.period_id == period_for(TODAY).id and entry.period.is_open
    assert entry.created_by_id == manager.id
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "CommissionEntry",
                                                        AuditEvent.object_id == entry.id)).one()
    assert (event.action, event.actor_id, event.after["amount_cents"], event.after["reason"]) == (
        "ledger.adjust", manager.id, -2500, "Duplicate bonus paid in October")


def test_balances_and_the_period_reconcile_after_adjustments(world):
    agent, _ = world
    before = ledger.agent_balance(agent.id)
    add_manual_adjustment(agent.manager, agent.id, 5000, "Trade show bonus")
    add_manual_adjustment(agent.manager, agent.id, -1250, "Returned demo unit")
    after = ledger.agent_balance(agent.id)
    assert after.unpaid == before.unpaid + 3750
    assert after.open_running == before.open_running + 3750
    summary = ledger.period_summary(agent.id, period_for(TODAY))
    assert (summary.earned, summary.adjustments, summary.total) == (3000, 3750, 6750)
    assert summary.closing == summary.opening + summary.total - summary.payouts


def test_the_ledger_never_recomputes_a_manual_entry(world, factory):
    agent, sale = world
    entry = add_manual_adjustment(agent.manager, agent.id, 4200, "Correction agreed with finance",
                                  sale_id=sale.id)
    # Everything that recomputes the month: another approval, a void, a direct recompute.
    factory.sale(agent, "20000.00", date(2026, 11, 19))
    void_sale(agent.manager, sale, "Refunded")
    ledger.recompute_agent_month(agent.id, date(2026, 11, 1))
    db.session.expire_all()
    kept = db.session.get(CommissionEntry, entry.id)
    assert (kept.kind, kept.amount_cents, kept.reason, kept.sale_id) == (
        EntryKind.MANUAL, 4200, "Correction agreed with finance", sale.id)
    # The sale's own commission went (voided in an open period); the correction stayed.
    system = db.session.scalars(select(CommissionEntry).where(CommissionEntry.sale_id == sale.id,
                                                              CommissionEntry.kind != EntryKind.MANUAL)).all()
    assert system == []


def test_an_adjustment_stays_frozen_when_its_period_closes(world, today):
    agent, _ = world
    entry = add_manual_adjustment(agent.manager, agent.id, 1000, "Spot bonus")
    first = entry.period
    today(date(2026, 12, 2))
    close_period(None, first)
    later = add_manual_adjustment(agent.manager, agent.id, -300, "Correction of the spot bonus")
    assert later.period_id != first.id and later.period.start_date == date(2026, 12, 1)
    assert db.session.get(CommissionEntry, entry.id).amount_cents == 1000


@pytest.mark.parametrize("amount, field, says", [
    (0, "amount", "other than zero"),
    (True, "amount", "Enter an amount"),
    ("25.00", "amount", "Enter an amount"),
    (2.5, "amount", "Enter an amount"),
    (10**13, "amount", "too large"),
    (-(10**13), "amount", "too large"),
])
def test_bad_amounts_are_refused_and_nothing_is_written(world, amount, field, says):
    agent, _ = world
    before = _counts()
    with pytest.raises(ServiceError) as info:
        add_manual_adjustment(agent.manager, agent.id, amount, "Reason")
    assert (info.value.field, info.value.status) == (field, 422) and says in info.value.message
    assert _counts() == before


@pytest.mark.parametrize("reason, says", [
    ("", "Give a reason"), ("   \n ", "Give a reason"), (None, "Give a reason"), ("x" * 2001, "under 2000"),
])
def test_a_reason_is_required(world, reason, says):
    agent, _ = world
    before = _counts()
    with pytest.raises(ServiceError) as info:
        add_manual_adjustment(agent.manager, agent.id, 100, reason)
    assert info.value.field == "reason" and says in info.value.message
    assert _counts() == before


def test_only_the_agents_manager_an_admin_or_the_system_may_adjust(world, factory):
    agent, _ = world
    other_manager = factory.user("manager")
    with pytest.raises(NotFound):
        add_manual_adjustment(other_manager, agent.id, 100, "Not my agent")
    with pytest.raises(NotFound):
        add_manual_adjustment(agent, agent.id, 100, "Agents cannot adjust themselves")
    assert add_manual_adjustment(factory.user("admin"), agent.id, 100, "Admin").amount_cents == 100
    assert add_manual_adjustment(None, agent.id, 200, "Accepted dispute").created_by_id is None


@pytest.mark.parametrize("agent_id", [None, "1", 0, 10**9])
def test_unknown_agents_are_not_found(world, agent_id):
    with pytest.raises(NotFound):
        add_manual_adjustment(None, agent_id, 100, "Reason")


def test_a_manager_is_not_an_agent(world):
    agent, _ = world
    with pytest.raises(NotFound):
        add_manual_adjustment(None, agent.manager.id, 100, "Reason")


def test_a_linked_sale_must_be_the_agents_own(world, factory):
    agent, _ = world
    stranger = factory.user("agent")
    factory.assign(stranger, factory.plan(base_rate="3"))
    theirs = factory.sale(stranger, "100.00", TODAY)
    before = _counts()
    with pytest.raises(ServiceError) as info:
        add_manual_adjustment(agent.manager, agent.id, 100, "Reason", sale_id=theirs.id)
    assert info.value.field == "sale_id"
    assert _counts() == before


def test_todays_period_must_be_open(world):
    agent, _ = world
    # Not reachable through close_period (a period closes only after it ends); guard anyway.
    period_for(TODAY).status = "closed"
    db.session.flush()
    before = _counts()
    with pytest.raises(ServiceError) as info:
        add_manual_adjustment(agent.manager, agent.id, 100, "Reason")
    assert info.value.status == 409 and "closed" in info.value.message
    assert _counts() == before


def test_the_adjustment_takes_the_agent_lock_first(world, monkeypatch):
    agent, _ = world
    import webapp.commissions.adjustments as adjustments

    locked = []
    monkeypatch.setattr(adjustments, "lock_agent", locked.append)
    add_manual_adjustment(agent.manager, agent.id, 100, "Reason")
    assert locked == [agent.id]


def test_approving_a_sale_after_an_adjustment_keeps_both(world, factory):
    agent, _ = world
    pending = factory.sale(agent, "500.00", TODAY, approve=False)
    add_manual_adjustment(agent.manager, agent.id, -700, "Fee")
    approve_sale(agent.manager, pending)
    summary = ledger.period_summary(agent.id, period_for(TODAY))
    assert (summary.earned, summary.adjustments) == (3000 + 1500, -700)
