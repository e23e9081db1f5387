"""Concurrent approvals on PostgreSQL: the agent lock serialises ledger changes (COMMISSION_RULES.md s5).

These tests need two real transactions at once, so they cannot use the per-test rollback session:
the `committed` fixture swaps in a scoped session (one per app context, so one per thread) on a
private engine, commits real rows, and deletes every row it added afterwards. SQLite is skipped:
it has no row locks (BEGIN IMMEDIATE serialises every writer) and one file cannot show the race.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from tests.support.committed import in_threads, own_session
from webapp.audit.models import AuditEvent
from webapp.auth.models import User
from webapp.commissions import engine as commission_engine
from webapp.commissions import ledger
from webapp.commissions.models import CommissionEntry
from webapp.commissions.periods import period_for
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.money import to_cents
from webapp.sales import decisions as sales_decisions
from webapp.sales.models import Sale
from webapp.sales.services import approve_sale

# Far from the dates other tests use, so the periods this test commits never meet theirs.
TODAY = date(2031, 3, 12)
TIERS = (("0", "3"), ("1000", "5"), ("2500", "8"))
# (day of March 2031, amount): one approved before the race, then two pending whose figures depend
# on their order under marginal tiers (the later one crosses two brackets only after the earlier).
APPROVED_FIRST = (2, "500.00")
PENDING = ((5, "800.00"), (9, "1500.00"))
WAIT = 10  # seconds: a barrier or a join that takes longer than this means the test is stuck


@pytest.fixture
def committed(committed, today):
    """The shared committing session (tests.support.committed), on this module's day."""
    today(TODAY)
    return committed


def _setup(factory) -> dict:
    """An agent on a marginal tier plan, one approved sale and two pending ones; committed."""
    manager = factory.user("manager")
    admin = factory.user("admin")
    agent = factory.user("agent", manager=manager)
    factory.assign(agent, factory.plan(tiers=TIERS, tier_mode="marginal", name=f"Race {uuid.uuid4().hex[:8]}"))
    product = factory.product()
    day, amount = APPROVED_FIRST
    first = factory.sale(agent, amount, date(2031, 3, day), product=product)
    pending = [factory.sale(agent, amount, date(2031, 3, day), product=product, approve=False)
               for day, amount in PENDING]
    # The period row exists before the race, so neither thread has to create it.
    period_for(TODAY)
    db.session.commit()
    return {"agent": agent.id, "manager": manager.id, "admin": admin.id, "first": first.id,
            "pending": [s.id for s in pending], "sku": product.sku, "category": product.category.code}


def _expected(ids: dict, approved: list[int]) -> dict[int, int]:
    """The engine's figure (cents) for each sale of the month, computed from the test's own data."""
    plan = commission_engine.Plan(tiers=tuple((Decimal(f), Decimal(r)) for f, r in TIERS), tier_mode="marginal")
    days = dict(zip([ids["first"], *ids["pending"]], [APPROVED_FIRST, *PENDING]))
    lines = [commission_engine.SaleLine(id=sale_id, date=date(2031, 3, days[sale_id][0]),
                                        amount=Decimal(days[sale_id][1]), sku=ids["sku"], category=ids["category"],
                                        plan=plan)
             for sale_id in approved]
    results = commission_engine.compute_month(lines)
    return {sale_id: to_cents(results[sale_id].commission) if sale_id in results else 0 for sale_id in days}


def _ledger(connection, agent_id: int) -> dict[int, int]:
    """Committed sum of system entries per sale of the agent."""
    rows = connection.execute(
        select(CommissionEntry.sale_id, func.sum(CommissionEntry.amount_cents))
        .where(CommissionEntry.agent_id == agent_id).group_by(CommissionEntry.sale_id)).all()
    return {sale_id: int(total) for sale_id, total in rows}


def _race(app, jobs: list[tuple[int, int]], *, hold_first: float = 0.0, meet_before_commit: bool = False) -> list:
    """Approve (sale id, actor id) pairs in parallel threads released by one barrier.

    Each thread has its own app context, so its own session and connection. With `hold_first`, the
    first thread to finish approving waits that long before committing (so the other is surely
    inside approve_sale meanwhile). With `meet_before_commit`, every thread waits for all the
    others to finish approving before any commits. Returns one dict per job.
    """
    start = threading.Barrier(len(jobs))
    before_commit = threading.Barrier(len(jobs))
    order_lock = threading.Lock()
    order: list[int] = []
    outcomes = [dict() for _ in jobs]

    def work(index: int, sale_id: int, actor_id: int) -> None:
        """One manager's request: load, approve, commit (or roll back on a refusal)."""
        outcome = outcomes[index]
        with own_session(app):
            sale = db.session.get(Sale, sale_id)
            actor = db.session.get(User, actor_id)
            start.wait(WAIT)
            try:
                approve_sale(actor, sale)
            except ServiceError as exc:
                outcome["refused_at"] = time.monotonic()
                outcome["error"] = exc
                db.session.rollback()
                return
            outcome["approved_at"] = time.monotonic()
            with order_lock:
                order.append(index)
                first = len(order) == 1
            if meet_before_commit:
                before_commit.wait(WAIT)
            if first and hold_first:
                time.sleep(hold_first)
            # Stamped before commit(): the other thread is woken by the database's commit and can
            # stamp its own time before this thread returns from commit() (seen under load in CI).
            outcome["commit_started_at"] = time.monotonic()
            db.session.commit()
            outcome["committed_at"] = time.monotonic()

    in_threads(work, jobs, WAIT)
    return outcomes


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_approvals_of_one_agents_sales_are_serialised(app, factory, committed, round_):
    """Two managers approve two different sales of one agent at once: the ledger is what a recompute gives."""
    ids = _setup(factory)
    later, earlier = ids["pending"][1], ids["pending"][0]
    # Alternate who goes first in the job list; the barrier releases both together anyway.
    jobs = [(earlier, ids["manager"]), (later, ids["admin"])]
    if round_ % 2:
        jobs.reverse()
    outcomes = _race(app, jobs, hold_first=0.3)

    assert all("committed_at" in o for o in outcomes), outcomes
    winner, loser = sorted(outcomes, key=lambda o: o["approved_at"])
    # The second approval could not finish before the first had committed: it waited on the lock.
    assert loser["approved_at"] >= winner["commit_started_at"]
    expected = _expected(ids, [ids["first"], earlier, later])
    with committed.connect() as connection:
        assert _ledger(connection, ids["agent"]) == expected
    assert expected[later] == 8400  # 1,200.00 at 5% + 300.00 at 8%: the earlier sale went first

    # A fresh recompute of the month changes nothing: same ids, same amounts.
    with app.app_context():
        before = sorted(db.session.execute(select(CommissionEntry.id, CommissionEntry.sale_id,
                                                  CommissionEntry.amount_cents)
                                           .where(CommissionEntry.agent_id == ids["agent"])).all())
        ledger.lock_agent(ids["agent"])
        ledger.recompute_agent_month(ids["agent"], TODAY)
        after = sorted(db.session.execute(select(CommissionEntry.id, CommissionEntry.sale_id,
                                                 CommissionEntry.amount_cents)
                                          .where(CommissionEntry.agent_id == ids["agent"])).all())
        db.session.rollback()
        db.session.remove()
    assert after == before


def test_without_the_lock_the_race_loses_an_update(app, factory, committed, monkeypatch):
    """The control: with the agent locks a no-op, both recompute blind to the other and the ledger is wrong.

    This shows the test above can fail: the check sees the lost update that the lock prevents.
    """
    ids = _setup(factory)
    monkeypatch.setattr(sales_decisions, "lock_agents", lambda agent_ids: None)
    earlier, later = ids["pending"]
    outcomes = _race(app, [(earlier, ids["manager"]), (later, ids["admin"])], meet_before_commit=True)
    assert all("committed_at" in o for o in outcomes), outcomes
    with committed.connect() as connection:
        got = _ledger(connection, ids["agent"])
    expected = _expected(ids, [ids["first"], earlier, later])
    assert got != expected
    # The later sale was computed as if the earlier one were still pending.
    assert got[later] == _expected(ids, [ids["first"], later])[later] == 6500


@pytest.mark.parametrize("round_", range(2))
def test_two_managers_approving_the_same_sale(app, factory, committed, round_):
    """Exactly one approval and one ledger line; the other manager is told it is already approved (409)."""
    ids = _setup(factory)
    sale_id = ids["pending"][0]
    jobs = [(sale_id, ids["manager"]), (sale_id, ids["admin"])]
    if round_:
        jobs.reverse()
    outcomes = _race(app, jobs, hold_first=0.3)

    won = [o for o in outcomes if "committed_at" in o]
    lost = [o for o in outcomes if "error" in o]
    assert (len(won), len(lost)) == (1, 1), outcomes
    error = lost[0]["error"]
    assert error.status == 409 and "already approved" in error.message
    assert lost[0]["refused_at"] >= won[0]["commit_started_at"]
    winner_id = jobs[outcomes.index(won[0])][1]
    with committed.connect() as connection:
        sale = connection.execute(select(Sale.status, Sale.decided_by_id).where(Sale.id == sale_id)).one()
        assert tuple(sale) == ("approved", winner_id)
        lines = connection.execute(select(CommissionEntry.amount_cents).where(CommissionEntry.sale_id == sale_id)).all()
        assert [amount for (amount,) in lines] == [_expected(ids, [ids["first"], sale_id])[sale_id]]
        approvals = connection.execute(
            select(func.count()).select_from(AuditEvent)
            .where(AuditEvent.action == "sale.approve", AuditEvent.object_id == sale_id)).scalar_one()
        assert approvals == 1
        winner_name = connection.execute(select(User.name).where(User.id == winner_id)).scalar_one()
    assert winner_name in error.message


def test_cleanup_leaves_no_rows_behind(app, committed):
    """The fixture's own check: rows committed here are deleted at teardown (run after the others)."""
    with committed.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM periods WHERE start_date >= '2031-01-01'")).scalar_one() == 0
        assert connection.execute(select(func.count()).select_from(Sale).where(Sale.sold_on >= date(2031, 1, 1))
                                  ).scalar_one() == 0
