"""Targets (COMMISSION_RULES.md section 9): setting, changing or removing an agent's month target
recomputes that agent-month in the same transaction, so attainment-plan commission follows it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from webapp.audit.models import AuditEvent
from webapp.commissions import targets
from webapp.commissions.models import CommissionEntry, EntryKind, Target
from webapp.commissions.periods import close_period, period_for
from webapp.commissions.plans import PlanRules, create_plan
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.money import from_cents

NOV = date(2026, 11, 1)
H_TIERS = [("0", "2"), ("50", "4"), ("100", "6")]


def d(day: int) -> date:
    """A day of November 2026."""
    return date(2026, 11, day)


def attainment_plan(tier_mode: str = "retroactive", tiers=H_TIERS):
    """A target_percent plan made through the plan service."""
    rules = PlanRules(tiers=[(Decimal(f), Decimal(r)) for f, r in tiers], tier_mode=tier_mode,
                      basis="target_percent")
    return create_plan(None, name=f"Attainment {tier_mode} {len(tiers)}", description=None, rules=rules,
                       effective_from=date(2000, 1, 1))


def commission(agent, sale) -> Decimal:
    """What the agent's entries for the sale add up to (line plus adjustments)."""
    total = db.session.scalar(select(func.coalesce(func.sum(CommissionEntry.amount_cents), 0)).where(
        CommissionEntry.agent_id == agent.id, CommissionEntry.sale_id == sale.id, CommissionEntry.spiff_id.is_(None)))
    return from_cents(int(total))


@pytest.fixture
def example_h(factory, today):
    """Example H's agent on a retroactive attainment plan with its three approved November sales."""
    today(d(20))
    agent = factory.user("agent")
    factory.assign(agent, attainment_plan())
    sales = [factory.sale(agent, amount, d(day)) for amount, day in
             (("5000.00", 4), ("4000.00", 12), ("4000.00", 20))]
    return agent, sales


def figures(agent, sales) -> list[str]:
    """The agent's commission of each sale, as strings."""
    return [str(commission(agent, sale)) for sale in sales]


def test_setting_changing_and_removing_a_target_recomputes_the_month(example_h):
    agent, sales = example_h
    # No target yet: the first bracket's 2%, whatever the volume.
    assert figures(agent, sales) == ["100.00", "80.00", "80.00"]
    targets.set_target(None, agent_id=agent.id, month=d(17), amount_cents=1_234_567)
    assert figures(agent, sales) == ["300.00", "240.00", "240.00"]   # 13,000 >= 12,345.67: 6%
    targets.set_target(None, agent_id=agent.id, month=NOV, amount_cents=1_300_001)
    assert figures(agent, sales) == ["200.00", "160.00", "160.00"]   # 13,000 < 13,000.01: 4%
    assert targets.remove_target(None, agent_id=agent.id, month=NOV) is True
    assert figures(agent, sales) == ["100.00", "80.00", "80.00"]
    assert db.session.scalar(select(func.count()).select_from(Target)) == 0
    derivation = db.session.scalar(select(CommissionEntry.derivation).where(CommissionEntry.sale_id == sales[0].id))
    assert derivation["no_target"] is True
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "Target")
                                      .order_by(AuditEvent.id)))
    assert actions == ["target.set", "target.set", "target.remove"]


def test_a_target_change_after_the_periods_closed_posts_adjustments_in_the_open_period(example_h, today):
    agent, sales = example_h
    targets.set_target(None, agent_id=agent.id, month=NOV, amount_cents=1_234_567)
    today(date(2026, 12, 2))
    close_period(None, period_for(d(4)))
    close_period(None, period_for(d(20)))
    targets.set_target(None, agent_id=agent.id, month=NOV, amount_cents=1_300_001)
    december = period_for(date(2026, 12, 2))
    adjustments = db.session.execute(select(CommissionEntry.sale_id, CommissionEntry.amount_cents,
                                            CommissionEntry.period_id)
                                     .where(CommissionEntry.agent_id == agent.id,
                                            CommissionEntry.kind == EntryKind.ADJUSTMENT)
                                     .order_by(CommissionEntry.sale_id)).all()
    assert [(sale_id, cents, period_id) for sale_id, cents, period_id in adjustments] == [
        (sales[0].id, -10_000, december.id), (sales[1].id, -8_000, december.id), (sales[2].id, -8_000, december.id)]
    # Closed lines are frozen; what is owed now is the new figure.
    assert figures(agent, sales) == ["200.00", "160.00", "160.00"]
    # Removing the target reverses more of it, in the same adjustments (updated in place).
    targets.remove_target(None, agent_id=agent.id, month=NOV)
    assert figures(agent, sales) == ["100.00", "80.00", "80.00"]
    assert db.session.scalar(select(func.count()).where(CommissionEntry.agent_id == agent.id,
                                                        CommissionEntry.kind == EntryKind.ADJUSTMENT)) == 3


def test_under_an_amount_plan_a_target_changes_no_commission(factory, today):
    today(d(20))
    agent = factory.user("agent")
    factory.assign(agent, factory.plan(tiers=[("0", "2"), ("5000", "4")], tier_mode="retroactive"))
    sale = factory.sale(agent, "6000.00", d(3))
    before = commission(agent, sale)
    targets.set_target(None, agent_id=agent.id, month=NOV, amount_cents=100)
    targets.remove_target(None, agent_id=agent.id, month=NOV)
    assert commission(agent, sale) == before == Decimal("240.00")


def test_a_target_only_touches_its_own_month(example_h, factory):
    agent, sales = example_h
    october = factory.sale(agent, "9000.00", date(2026, 10, 20))
    targets.set_target(None, agent_id=agent.id, month=date(2026, 10, 1), amount_cents=100)
    assert commission(agent, october) == Decimal("540.00")     # 9,000 >= 100% of 1.00: 6%
    assert figures(agent, sales) == ["100.00", "80.00", "80.00"]


def test_removing_a_target_that_is_not_there_writes_nothing(example_h):
    agent, _ = example_h
    assert targets.remove_target(None, agent_id=agent.id, month=NOV) is False
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "target.remove")) == 0


@pytest.mark.parametrize("amount_cents", [0, -5, None, True])
def test_a_target_below_one_cent_is_refused(factory, amount_cents):
    agent = factory.user("agent")
    with pytest.raises(ServiceError) as info:
        targets.set_target(None, agent_id=agent.id, month=NOV, amount_cents=amount_cents)
    assert info.value.field == "amount"


def test_a_target_is_for_an_agent(factory):
    manager = factory.user("manager")
    with pytest.raises(ServiceError) as info:
        targets.set_target(None, agent_id=manager.id, month=NOV, amount_cents=100)
    assert info.value.field == "agent_id"


def test_the_agent_is_locked_before_the_target_is_read(example_h, monkeypatch):
    """Two saves of one agent's target must recompute one after the other (lock, then read)."""
    agent, _ = example_h
    seen = []
    real_lock, real_read = targets.lock_agent, targets._target
    monkeypatch.setattr(targets, "lock_agent", lambda agent_id: (seen.append(("lock", agent_id)), real_lock(agent_id)))
    monkeypatch.setattr(targets, "_target", lambda *args: (seen.append(("read",)), real_read(*args))[1])
    targets.set_target(None, agent_id=agent.id, month=NOV, amount_cents=100)
    targets.remove_target(None, agent_id=agent.id, month=NOV)
    assert seen == [("lock", agent.id), ("read",), ("lock", agent.id), ("read",)]


def test_an_unchanged_target_recomputes_nothing(example_h, monkeypatch):
    agent, _ = example_h
    targets.set_target(None, agent_id=agent.id, month=NOV, amount_cents=100)
    calls = []
    monkeypatch.setattr(targets, "recompute_agent_month", lambda *args: calls.append(args))
    targets.set_target(None, agent_id=agent.id, month=NOV, amount_cents=100)
    assert calls == []
    targets.set_target(None, agent_id=agent.id, month=NOV, amount_cents=101)
    assert calls == [(agent.id, NOV)]
