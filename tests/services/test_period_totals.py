"""agent_period_totals: each agent's total of a closed period, kept when it closes, and the
balances of many agents read through them (commissions/balances.entry_totals) agreeing with the
per-agent ledger figures (agent_balance, period_summary), which sum every entry."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import delete, func, select, update

from webapp.commissions import balances, ledger
from webapp.commissions.adjustments import add_manual_adjustment
from webapp.commissions.models import AgentPeriodTotal, CommissionEntry, Payout, Period
from webapp.commissions.payouts import record_payout
from webapp.commissions.periods import period_for
from webapp.extensions import db
from webapp.sales.portal import commission_chart
from webapp.sales.services import void_sale

TODAY = date(2026, 11, 20)


@pytest.fixture
def history(build, factory):
    """Ann, Ben and Cy (nothing sold) on flat 3%, from Oct 3 to Nov 20 2026.

    Oct 1-15: Ann 10,000 (300) and Ben 4,000 (120), closed on Oct 20. Oct 16-31: nothing (no row
    until Nov 1-15 closes over it). Nov 1-15: Ann 2,000 (60), Ben a manual 15.00, Ann paid 100.00;
    closed on Nov 20. Nov 16-30, open: Ben 1,000 (30), Ann's October sale voided (a -300
    clawback), Ben paid 50.00."""
    build.on(date(2026, 10, 3))
    manager, (ann, ben, cy) = build.team(None, "Ann Archer", "Ben Baker", "Cy Cole")
    voided = factory.sale(ann, "10000.00", date(2026, 10, 3))
    factory.sale(ben, "4000.00", date(2026, 10, 3))
    build.on(date(2026, 10, 20))
    build.close(date(2026, 10, 3))
    build.on(date(2026, 11, 3))
    factory.sale(ann, "2000.00", date(2026, 11, 3))
    add_manual_adjustment(manager, ben.id, 1500, "Sign-on bonus")
    record_payout(None, agent_id=ann.id, amount_cents=10000, paid_on=date(2026, 11, 3))
    build.on(TODAY)
    build.close(date(2026, 11, 3))
    factory.sale(ben, "1000.00", TODAY)
    void_sale(manager, voided, "Refunded")
    record_payout(None, agent_id=ben.id, amount_cents=5000, paid_on=TODAY)
    db.session.flush()
    return {"ann": ann, "ben": ben, "cy": cy}


def _live(period_id: int) -> dict[int, int]:
    """Each agent's entries of a period, summed afresh."""
    return dict(db.session.execute(
        select(CommissionEntry.agent_id, func.sum(CommissionEntry.amount_cents))
        .where(CommissionEntry.period_id == period_id).group_by(CommissionEntry.agent_id)).all())


def _kept(period_id: int) -> dict[int, int]:
    """The kept totals of a period."""
    return dict(db.session.execute(
        select(AgentPeriodTotal.agent_id, AgentPeriodTotal.amount_cents).where(AgentPeriodTotal.period_id == period_id)).all())


def test_closing_keeps_each_agents_total_of_the_period_and_of_the_gaps_it_closes(history):
    ann, ben = history["ann"], history["ben"]
    october, gap, november = (period_for(date(2026, 10, 3)), period_for(date(2026, 10, 20)),
                              period_for(date(2026, 11, 3)))
    assert _kept(october.id) == _live(october.id) == {ann.id: 30000, ben.id: 12000}
    assert _kept(november.id) == _live(november.id) == {ann.id: 6000, ben.id: 1500}
    assert gap.status == "closed" and _kept(gap.id) == {} == _live(gap.id)
    assert all(p.totals_kept for p in (october, gap, november))
    # The void's clawback went to the earliest open period, the current one.
    current = period_for(TODAY)
    assert not current.totals_kept and _kept(current.id) == {} and _live(current.id) == {ben.id: 3000, ann.id: -30000}
    balances.keep_period_totals([october])  # kept once: a second call adds nothing
    assert _kept(october.id) == {ann.id: 30000, ben.id: 12000}


def _assert_agree_with_the_ledger(agents):
    """The many-agent figures equal the per-agent ones, which sum every entry."""
    ids = [a.id for a in agents]
    unpaid = balances.unpaid_balances(ids)
    for agent in agents:
        assert unpaid[agent.id] == ledger.agent_balance(agent.id).unpaid, agent.name
    for period in db.session.scalars(select(Period).where(Period.status == "closed")):
        found = balances.payment_balances(ids, period)
        for agent in agents:
            paid_since = sum(db.session.scalars(select(Payout.amount_cents).where(
                Payout.agent_id == agent.id, Payout.paid_on > period.end_date)))
            assert found[agent.id] == (ledger.period_summary(agent.id, period).closing, paid_since,
                                       ledger.agent_balance(agent.id).unpaid), (agent.name, period.label)
    for who in (ids, ids[0], ids[1]):
        team = [who] if isinstance(who, int) else who
        for bar in commission_chart(who, TODAY, 6):
            period = db.session.scalar(select(Period).where(Period.start_date == bar.start))
            assert bar.cents == (sum(v for a, v in _live(period.id).items() if a in team) if period else 0), bar.label


def test_balances_through_kept_totals_agree_with_every_entry(history):
    ann, ben, cy = history["ann"], history["ben"], history["cy"]
    _assert_agree_with_the_ledger([ann, ben, cy])
    # Not figures that agree at zero: Ann earned 300 + 60 - 300 and was paid 100; Ben 120 + 15 + 30, paid 50.
    assert balances.unpaid_balances([ann.id, ben.id, cy.id]) == {ann.id: -4000, ben.id: 11500, cy.id: 0}
    assert [bar.cents for bar in commission_chart([ann.id, ben.id], TODAY, 4)] == [42000, 0, 7500, 3000 - 30000]


@pytest.mark.parametrize("totals_left", [False, True])
def test_a_closed_period_without_kept_totals_is_summed_from_its_entries(history, totals_left):
    """A period closed some other way (its totals not kept: a restore, a hand-made fix) still
    counts, from its entries, even with stale totals rows left behind; never twice."""
    ann, ben, cy = history["ann"], history["ben"], history["cy"]
    november = period_for(date(2026, 11, 3))
    if not totals_left:
        db.session.execute(delete(AgentPeriodTotal).where(AgentPeriodTotal.period_id == november.id))
    db.session.execute(update(Period).where(Period.id == november.id).values(totals_kept=False))
    db.session.expire_all()
    _assert_agree_with_the_ledger([ann, ben, cy])
    assert balances.unpaid_balances([ann.id, ben.id, cy.id]) == {ann.id: -4000, ben.id: 11500, cy.id: 0}


def test_the_apps_postgresql_connections_compile_nothing_just_in_time(app):
    """JIT compiling cost more than the statements it served (webapp/__init__._configure_postgresql)."""
    from sqlalchemy import text

    if db.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL setting")
    with db.engine.connect() as connection:
        connection.rollback()  # the pool's reset on return: the setting outlives it
        assert connection.execute(text("SHOW jit")).scalar() == "off"
