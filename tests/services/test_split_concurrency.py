"""Two split sales that share holders, approved at once on PostgreSQL (COMMISSION_RULES.md section 8).

Sale 1 is Ana's with Ben as co-agent, sale 2 Ben's with Ana as co-agent. Each approval locks both
holders; taken in id order, the second approval waits for the first and both succeed. The control
takes them primary first (Ana-Ben against Ben-Ana) and PostgreSQL finds a deadlock, which shows the
test can fail. A pause after the first lock makes both approvals hold one lock before either asks
for the second, every time. SQLite is skipped (see tests/support/committed.py).
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from tests.support.committed import in_threads, own_session
from webapp.auth.models import User
from webapp.commissions import ledger
from webapp.commissions.models import CommissionEntry
from webapp.commissions.periods import period_for
from webapp.extensions import db
from webapp.sales import decisions as sales_decisions
from webapp.sales import services as sales
from webapp.sales.models import Sale

TODAY = date(2031, 5, 14)  # far from other tests' committed months
WAIT = 10
PAUSE = 0.4  # seconds each approval holds its first lock before asking for the second


@pytest.fixture
def committed(committed, today):
    """The shared committing session, on this module's day."""
    today(TODAY)
    return committed


def _setup(factory) -> dict:
    """Ana and Ben (10% and 5%), two managers, and the two pending split sales; committed."""
    managers = [factory.user("manager"), factory.user("manager")]
    ana, ben = factory.user("agent", manager=managers[0]), factory.user("agent", manager=managers[1])
    factory.assign(ana, factory.plan(base_rate="10", name=f"Split race {uuid.uuid4().hex[:8]}"))
    factory.assign(ben, factory.plan(base_rate="5", name=f"Split race {uuid.uuid4().hex[:8]}"))
    product = factory.product()
    made = []
    for primary, co_agent, amount in ((ana, ben, "1000.00"), (ben, ana, "400.00")):
        sale, _ = sales.create_sale(primary, sales.SaleInput(
            product_id=product.id, quantity=1, unit_price=Decimal(amount), sold_on=TODAY,
            customer_id=factory.customer().id, co_agents=(sales.CoAgentInput(co_agent.id, "40"),)),
            idempotency_key=uuid.uuid4().hex)
        made.append(sale)
    period_for(TODAY)
    db.session.commit()
    return {"ana": ana.id, "ben": ben.id, "sales": [s.id for s in made],
            "managers": [m.id for m in managers]}


def _slow_locks(primary_first: bool, primaries: dict):
    """lock_agents that pauses after its first lock; in id order, or (the control) primary first
    (`primaries`: each thread's sale's primary, by thread id)."""
    def lock(agent_ids):
        ids = sorted(set(agent_ids))
        primary = primaries.get(threading.get_ident())
        if primary_first and primary in ids:
            ids = [primary] + [i for i in ids if i != primary]
        for number, agent_id in enumerate(ids):
            ledger.lock_agent(agent_id)
            if number == 0:
                time.sleep(PAUSE)
    return lock


def _race(app, ids: dict, primaries: dict) -> list[dict]:
    """Both managers approve their agent's sale at once; one outcome dict per sale."""
    start = threading.Barrier(2)
    outcomes = [dict(), dict()]

    def work(index: int, sale_id: int, manager_id: int) -> None:
        """One manager's request: approve and commit, or keep the error."""
        with own_session(app):
            sale, manager = db.session.get(Sale, sale_id), db.session.get(User, manager_id)
            primaries[threading.get_ident()] = sale.agent_id
            start.wait(WAIT)
            try:
                sales.approve_sale(manager, sale)
                db.session.commit()
                outcomes[index]["committed"] = True
            except OperationalError as exc:
                db.session.rollback()
                outcomes[index]["error"] = exc

    in_threads(work, list(zip(ids["sales"], ids["managers"])), WAIT)
    return outcomes


def _entries(committed, agent_id: int) -> dict[int, int]:
    """Committed commission of the agent per sale (cents)."""
    with committed.connect() as connection:
        return {sale_id: int(total) for sale_id, total in connection.execute(
            select(CommissionEntry.sale_id, func.sum(CommissionEntry.amount_cents))
            .where(CommissionEntry.agent_id == agent_id).group_by(CommissionEntry.sale_id))}


def test_two_split_sales_sharing_holders_approved_at_once_both_succeed(app, factory, committed, monkeypatch):
    ids = _setup(factory)
    primaries: dict = {}
    monkeypatch.setattr(sales_decisions, "lock_agents", _slow_locks(False, primaries))
    outcomes = _race(app, ids, primaries)
    assert outcomes == [{"committed": True}, {"committed": True}]
    first, second = ids["sales"]
    # Ana: 60% of 1,000.00 and 40% of 400.00 at 10%; Ben: 40% of 1,000.00 and 60% of 400.00 at 5%.
    assert _entries(committed, ids["ana"]) == {first: 6000, second: 1600}
    assert _entries(committed, ids["ben"]) == {first: 2000, second: 1200}


def test_the_control_locking_primary_first_deadlocks(app, factory, committed, monkeypatch):
    ids = _setup(factory)
    primaries: dict = {}
    monkeypatch.setattr(sales_decisions, "lock_agents", _slow_locks(True, primaries))
    outcomes = _race(app, ids, primaries)
    errors = [o["error"] for o in outcomes if "error" in o]
    assert len(errors) == 1 and "deadlock detected" in str(errors[0])
