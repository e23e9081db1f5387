"""A SPIFF's background recompute racing a manager's approval of the same agent's sale (PostgreSQL):
both take the agent's lock, so whichever order they commit in, the ledger ends as a fresh recompute
of the month gives it, with the capped SPIFF paid in allocation order."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from tests.support.committed import in_threads, own_session
from webapp.auth.models import User
from webapp.commissions import ledger
from webapp.commissions.models import CommissionEntry
from webapp.commissions.periods import period_for
from webapp.extensions import db
from webapp.sales.models import Sale
from webapp.sales.services import approve_sale
from webapp.spiffs import recompute
from webapp.spiffs.models import RecomputeStatus, SpiffRecompute, spiff_version_products
from webapp.spiffs.services import SpiffRules, create_spiff

TODAY = date(2031, 3, 20)
WAIT = 10  # seconds: a barrier or a join that takes longer than this means the test is stuck


def _spiff_ledger(agent_id: int, spiff_id: int) -> dict[int, int]:
    """Committed SPIFF money per sale of the agent."""
    rows = db.session.execute(
        select(CommissionEntry.sale_id, func.sum(CommissionEntry.amount_cents))
        .where(CommissionEntry.agent_id == agent_id, CommissionEntry.spiff_id == spiff_id)
        .group_by(CommissionEntry.sale_id)).all()
    return {sale_id: int(total) for sale_id, total in rows}


@pytest.mark.parametrize("round_", range(3))
def test_a_background_recompute_and_an_approval_keep_the_month_invariant(app, factory, committed, today,
                                                                         monkeypatch, round_):
    today(TODAY)
    manager = factory.user("manager")
    agent, other = factory.user("agent", manager=manager), factory.user("agent", manager=manager)
    plan = factory.plan(base_rate="3")
    for holder in (agent, other):
        factory.assign(holder, plan)
    printer = factory.product()
    first = factory.sale(agent, "100.00", date(2031, 3, 5), product=printer)
    factory.sale(other, "100.00", date(2031, 3, 5), product=printer)
    pending = factory.sale(agent, "100.00", date(2031, 3, 4), product=printer, approve=False)
    period_for(TODAY)
    monkeypatch.setattr(recompute, "SYNC_LIMIT", 0)
    monkeypatch.setattr(recompute, "BATCH_SIZE", 1)
    change = create_spiff(None, f"Race {round_}", SpiffRules(date(2031, 3, 1), date(2031, 3, 31),
                                                            per_unit=Decimal("12.25"), cap=Decimal("20.00"),
                                                            product_ids=[printer.id]))
    db.session.commit()
    spiff_id, run_id, version_id = change.spiff.id, change.run.id, change.version.id
    try:
        start = threading.Barrier(2)

        def work(index: int, job: str) -> None:
            """The job's batches, or the manager's approval, released together."""
            with own_session(app):
                if job == "approve":
                    sale, actor = db.session.get(Sale, pending.id), db.session.get(User, manager.id)
                    start.wait(WAIT)
                    approve_sale(actor, sale)
                    db.session.commit()
                else:
                    start.wait(WAIT)
                    recompute.run_recompute(run_id)

        in_threads(work, [("approve",), ("job",)] if round_ % 2 else [("job",), ("approve",)], WAIT)
        db.session.expire_all()
        assert db.session.get(SpiffRecompute, run_id).status == RecomputeStatus.DONE
        # The Mar 4 sale comes first in allocation order: 12.25, then the Mar 5 one gets the 7.75 left.
        assert _spiff_ledger(agent.id, spiff_id) == {pending.id: 1225, first.id: 775}
        before = _spiff_ledger(agent.id, spiff_id)
        ledger.lock_agent(agent.id)
        ledger.recompute_agent_month(agent.id, date(2031, 3, 1))
        db.session.flush()
        assert _spiff_ledger(agent.id, spiff_id) == before
        db.session.rollback()
    finally:
        # The committed fixture removes rows by id; the eligibility table has none.
        db.session.rollback()
        db.session.execute(delete(spiff_version_products).where(spiff_version_products.c.version_id == version_id))
        db.session.commit()
