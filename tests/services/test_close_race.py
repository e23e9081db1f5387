"""A period closing while a write into it is under way (PostgreSQL): a manager approves a sale dated
in the period, or records a payout dated in it, just as the period is closed (its statement run
starting). What the close freezes must be what the closed period holds for ever: the approval's
line (or the payout) is in the period when it closes, or, once it closed, refused or posted in a
later open period; never slipped into the period after its close, where no statement shows it.

The writer holds the periods it writes into (FOR SHARE, periods.hold_open) until it commits, so the
close waits for it; before, the close went through at once and the write landed afterwards.
"""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from tests.support.committed import against_an_approval, approved_then_pending, attempt, in_threads
from webapp.commissions import entry_writes, payouts
from webapp.commissions.models import CommissionEntry, Payout
from webapp.commissions.periods import close_period, period_for
from webapp.extensions import db
from webapp.sales.decisions import approve_sale

WAIT = 10  # seconds: a barrier or a join taking longer means the test is stuck


def _net_of(period) -> int:
    """The period's entries less the payouts dated in it, as this transaction sees them (cents): what
    its statement states."""
    entries = db.session.scalar(select(func.coalesce(func.sum(CommissionEntry.amount_cents), 0))
                                .where(CommissionEntry.period_id == period.id))
    paid = db.session.scalar(select(func.coalesce(func.sum(Payout.amount_cents), 0))
                             .where(Payout.paid_on >= period.start_date, Payout.paid_on <= period.end_date))
    return int(entries) - int(paid)


@pytest.mark.parametrize("writer", ["approve", "pay"])
def test_a_period_closing_during_a_write_into_it_freezes_exactly_what_it_holds(app, factory, committed, today,
                                                                               monkeypatch, writer):
    today(date(2034, 3, 10))
    manager = factory.user("manager")
    plan = factory.plan(base_rate="3", name=f"Close race {manager.id}")
    agent = factory.user("agent", manager=manager)
    factory.assign(agent, plan)
    factory.sale(agent, "1000.00", date(2034, 3, 4))  # approved: 30.00 in the period already
    pending = factory.sale(agent, "2000.00", date(2034, 3, 9), approve=False)
    today(date(2034, 3, 20))
    period = period_for(date(2034, 3, 9))
    db.session.commit()
    ids = {"period": period.id, "sale": pending.id, "manager": manager.id, "agent": agent.id}

    read_periods, frozen = threading.Event(), []
    real_init, real_check = entry_writes.MonthPeriods.__init__, payouts.check_plain_text

    def pause() -> None:
        """The writer has read its periods: let the close go ahead while it has not committed."""
        if threading.current_thread().name == "writer":
            read_periods.set()
            threading.Event().wait(0.3)  # the close runs meanwhile

    def init(self, first, last):
        """The recompute reads the month's periods."""
        real_init(self, first, last)
        pause()

    def check(*args, **kwargs):
        """The payout has looked at its period's date and checks its reference, just before the insert."""
        pause()
        return real_check(*args, **kwargs)

    monkeypatch.setattr(entry_writes.MonthPeriods, "__init__", init)
    monkeypatch.setattr(payouts, "check_plain_text", check)

    def work(_index, name):
        """The write, or the close once the writer has read its periods."""
        threading.current_thread().name = name
        with app.app_context():
            from webapp.auth.models import User
            from webapp.commissions.models import Period
            from webapp.sales.models import Sale

            actor = db.session.get(User, ids["manager"])
            if name == "close":
                assert read_periods.wait(WAIT)
                period = db.session.get(Period, ids["period"])
                close_period(actor, period)
                frozen.append(_net_of(period))  # what a statement run would state for it
            elif writer == "approve":
                approve_sale(actor, db.session.get(Sale, ids["sale"]))
            else:
                payouts.record_payout(actor, agent_id=ids["agent"], amount_cents=1000, paid_on=date(2034, 3, 12))
            db.session.commit()
            db.session.remove()

    in_threads(work, [("writer",), ("close",)], WAIT)

    db.session.expire_all()
    assert frozen == [_net_of(period_for(date(2034, 3, 9)))], "the closed period holds exactly what its close froze"


def _kept_and_live(period_id: int, agent_id: int) -> tuple[int | None, int | None]:
    """The agent's kept total of the period, and the sum of its entries there now."""
    from webapp.commissions.models import AgentPeriodTotal

    kept = db.session.scalar(select(AgentPeriodTotal.amount_cents).where(
        AgentPeriodTotal.period_id == period_id, AgentPeriodTotal.agent_id == agent_id))
    live = db.session.scalar(select(func.sum(CommissionEntry.amount_cents)).where(
        CommissionEntry.period_id == period_id, CommissionEntry.agent_id == agent_id))
    return kept, live


def test_a_close_and_a_write_for_an_agent_of_the_period_do_not_deadlock(app, factory, committed, today, monkeypatch):
    """The close holds its period and keeps each agent's total; an approval holds its agent and
    waits for the period. The kept totals must not need the agent's row (a foreign key's KEY SHARE
    lock did: PostgreSQL then broke the deadlock by failing one of them)."""
    from webapp.manage import periods as manage_periods

    ids = approved_then_pending(factory, today, date(2034, 3, 1), "Deadlock race")  # 30.00 in Mar 1-15
    period_locked = threading.Event()
    real_close = manage_periods.close_period

    def close_slowly(actor, locked):
        """The period's row is locked: let the approval lock its agent and wait for the period."""
        period_locked.set()
        threading.Event().wait(0.5)
        return real_close(actor, locked)

    monkeypatch.setattr(manage_periods, "close_period", close_slowly)

    outcome = against_an_approval(app, lambda actor: manage_periods.close(actor, ids["period"]), ids["sale"],
                                  ids["manager"], period_locked)
    assert outcome == {"holder": "done", "approve": "done"}
    db.session.expire_all()
    assert _kept_and_live(ids["period"], ids["agent"]) == (3000, 3000)


def test_an_adjustment_made_as_its_period_closes_is_in_the_kept_total_or_refused(app, factory, committed, today,
                                                                                monkeypatch):
    """A manual adjustment whose request read today's period as open just before midnight, and the
    close of that period just after: the entry is in the period before the close keeps its totals,
    or refused; never added to the closed period behind its kept total."""
    from webapp import clock
    from webapp.commissions import adjustments
    from webapp.manage import periods as manage_periods

    today(date(2034, 3, 10))
    manager = factory.user("manager")
    agent = factory.user("agent", manager=manager)
    factory.assign(agent, factory.plan(base_rate="3", name=f"Adjustment race {manager.id}"))
    factory.sale(agent, "1000.00", date(2034, 3, 4))
    period = period_for(date(2034, 3, 4))
    db.session.commit()
    ids = {"period": period.id, "manager": manager.id, "agent": agent.id}
    days = {"adjust": date(2034, 3, 15), "close": date(2034, 3, 16)}  # each request's own today
    monkeypatch.setattr(clock, "today", lambda: days.get(threading.current_thread().name, date(2034, 3, 16)))
    looked, outcome = threading.Event(), {}
    real_period_for = adjustments.period_for

    def period_for_then_pause(day):
        """The adjustment has found today's period open; the close runs meanwhile."""
        found = real_period_for(day)
        assert found.is_open
        looked.set()
        threading.Event().wait(0.5)
        return found

    monkeypatch.setattr(adjustments, "period_for", period_for_then_pause)

    def step(name):
        """Adjust, or close once the adjustment has looked at its period."""
        from webapp.auth.models import User

        actor = db.session.get(User, ids["manager"])
        if name == "close":
            assert looked.wait(WAIT)
            manage_periods.close(actor, ids["period"])
        else:
            adjustments.add_manual_adjustment(actor, ids["agent"], 5000, "Bonus")

    def work(_index, name):
        """The thread is named for its own today."""
        threading.current_thread().name = name
        outcome[name] = attempt(app, lambda: step(name))

    in_threads(work, [("adjust",), ("close",)], WAIT)
    db.session.expire_all()
    kept, live = _kept_and_live(ids["period"], ids["agent"])
    assert outcome["close"] == "done" and kept == live
    assert (outcome["adjust"], live) in (("done", 8000), (409, 3000))
