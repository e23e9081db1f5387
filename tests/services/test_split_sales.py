"""Split sales through the services (COMMISSION_RULES.md section 8): co-agents and shares are
checked (a bad one writes nothing), credits are allocated by the engine (co-agents rounded down,
the primary takes the rest), and approving, voiding or editing keeps every holder's ledger exact."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select, update

from webapp.audit.models import AuditEvent
from webapp.catalog.models import Customer
from webapp.commissions.models import CommissionEntry
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.sales import services as sales
from webapp.sales.models import Sale, SaleCredit

TODAY = date(2026, 11, 20)


@pytest.fixture
def trio(factory, today):
    """Ana and Ben on a flat 10% plan, Cy on 5%, each with a manager; and an inactive agent."""
    today(TODAY)
    manager = factory.user("manager")
    ana, ben, cy = (factory.user("agent", manager=manager) for _ in range(3))
    factory.assign(ana, factory.plan(base_rate="10"))
    factory.assign(ben, factory.plan(base_rate="10"))
    factory.assign(cy, factory.plan(base_rate="5"))
    gone = factory.user("agent", manager=manager, active=False)
    return ana, ben, cy, gone


def _input(factory, amount: str, *co_agents, share=None, product=None) -> sales.SaleInput:
    """A sale of `amount` to a new customer today, split with (agent id, share) pairs."""
    return sales.SaleInput(product_id=(product or factory.product()).id, quantity=1, unit_price=Decimal(amount),
                           sold_on=TODAY, new_customer_name=f"Acme {uuid.uuid4().hex[:6]}",
                           co_agents=tuple(sales.CoAgentInput(a, s) for a, s in co_agents), share=share)


def _record(actor, data, agent=None):
    """create_sale with a fresh key."""
    sale, created = sales.create_sale(actor, data, idempotency_key=uuid.uuid4().hex,
                                      agent_id=agent.id if agent else None)
    assert created
    return sale


def _credits(sale) -> list[tuple]:
    """(agent id, position, share units, credit cents) of the sale's credits."""
    return [tuple(row) for row in db.session.execute(
        select(SaleCredit.agent_id, SaleCredit.position, SaleCredit.share_units, SaleCredit.credit_cents)
        .where(SaleCredit.sale_id == sale.id).order_by(SaleCredit.position))]


def _commission(agent, sale) -> int:
    """The agent's entries for the sale, summed (cents)."""
    return int(db.session.scalar(select(func.coalesce(func.sum(CommissionEntry.amount_cents), 0)).where(
        CommissionEntry.agent_id == agent.id, CommissionEntry.sale_id == sale.id)))


def _counts() -> tuple[int, int, int, int]:
    """Rows of sales, credits, customers and audit events: what a refused request must not add."""
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (Sale, SaleCredit, Customer, AuditEvent))


# ---- Allocation --------------------------------------------------------------------------------


def test_a_split_rounds_the_co_agent_down_and_gives_the_primary_the_rest(factory, trio):
    ana, ben, *_ = trio
    sale = _record(ana, _input(factory, "100.01", (ben.id, "50")))
    assert _credits(sale) == [(ana.id, 0, 500_000, 5001), (ben.id, 1, 500_000, 5000)]


def test_four_co_agents_with_four_decimal_shares(factory, trio, today):
    ana, ben, cy, _ = trio
    dee, eve = factory.user("agent"), factory.user("agent")
    sale = _record(ana, _input(factory, "1000.00", (ben.id, "33.3333"), (cy.id, "0.0001"), (dee.id, "10"),
                               (eve.id, "6.6666")))
    # The primary's share is the rest: 100 - 50.0000 = 50.0000 (every co-agent rounded down).
    assert _credits(sale) == [(ana.id, 0, 500_000, 50001), (ben.id, 1, 333_333, 33333), (cy.id, 2, 1, 0),
                              (dee.id, 3, 100_000, 10000), (eve.id, 4, 66_666, 6666)]


def test_the_primary_share_may_be_given_when_all_shares_make_100(factory, trio):
    ana, ben, *_ = trio
    sale = _record(ana, _input(factory, "200.00", (ben.id, "40%"), share="60.0000"))
    assert _credits(sale) == [(ana.id, 0, 600_000, 12000), (ben.id, 1, 400_000, 8000)]


def test_the_audit_snapshot_carries_the_credits(factory, trio):
    ana, ben, *_ = trio
    sale = _record(ana, _input(factory, "200.00", (ben.id, "40")))
    after = db.session.scalar(select(AuditEvent.after).where(AuditEvent.object_id == sale.id,
                                                             AuditEvent.action == "sale.create"))
    assert after["credits"] == [{"agent_id": ana.id, "share": "60", "credit_cents": 12000},
                                {"agent_id": ben.id, "share": "40", "credit_cents": 8000}]


# ---- Validation: every bad input is refused beside its field and writes nothing ---------------


@pytest.mark.parametrize("co_agents, share, field, words", [
    ([("ben", "100")], None, "share", "leave the agent a share above 0"),
    ([("ben", "60"), ("cy", "50")], None, "share", "add up to 110%"),
    ([("ben", "40")], "50", "share", "add up to 90%; they must make exactly 100%"),
    ([("ben", "40.00001")], None, "co_share_1", "at most four decimals"),
    ([("ben", "0")], None, "co_share_1", "above 0%"),
    ([("ben", "0.00001")], None, "co_share_1", "at most four decimals"),
    ([("ben", "-5")], None, "co_share_1", "as a percent, like 40"),
    ([("ben", "1e1")], None, "co_share_1", "as a percent, like 40"),
    ([("ben", "150")], None, "co_share_1", "at most 100%"),
    ([("ben", "")], None, "co_share_1", "Enter co-agent 1's share"),
    ([("ben", 40.0)], None, "co_share_1", "exact decimal"),
    ([("ben", "forty")], None, "co_share_1", "as a percent"),
    ([("ana", "40")], None, "co_agent_1", "the sale's own agent"),
    ([("ben", "20"), ("ben", "20")], None, "co_agent_2", "already co-agent 1"),
    ([("gone", "20")], None, "co_agent_1", "choose an active agent"),
    ([("manager", "20")], None, "co_agent_1", "choose an active agent"),
    ([(999_999, "20")], None, "co_agent_1", "choose an active agent"),
    ([(2**40, "20")], None, "co_agent_1", "choose an active agent"),
    ([("ben", "10"), ("cy", "10"), ("x1", "10"), ("x2", "10"), ("x3", "10")], None, "co_agents", "at most 4"),
])
def test_bad_co_agents_or_shares_are_refused_and_write_nothing(factory, trio, co_agents, share, field, words):
    ana, ben, cy, gone = trio
    named = {"ana": ana.id, "ben": ben.id, "cy": cy.id, "gone": gone.id, "manager": ana.manager_id,
             **{f"x{n}": factory.user("agent").id for n in (1, 2, 3)}}
    data = _input(factory, "100.00", *((named.get(a, a), s) for a, s in co_agents), share=share)
    before = _counts()
    with pytest.raises(ServiceError) as caught:
        sales.create_sale(ana, data, idempotency_key=uuid.uuid4().hex)
    assert (caught.value.field, caught.value.status) == (field, 422)
    assert words in caught.value.message
    assert _counts() == before


def test_a_bad_edit_of_the_shares_changes_nothing(factory, trio):
    ana, ben, *_ = trio
    sale = _record(ana, _input(factory, "100.00", (ben.id, "40")))
    before = _credits(sale), _counts()
    with pytest.raises(ServiceError) as caught:
        sales.update_sale(ana, sale, _input(factory, "300.00", (ben.id, "40"), share="70"))
    assert caught.value.field == "share"
    db.session.expire_all()
    assert (_credits(sale), _counts()) == before
    assert sale.amount_cents == 10000


# ---- Every holder's ledger -----------------------------------------------------------------------


def test_approving_and_voiding_a_split_sale_moves_both_holders_ledgers(factory, trio):
    ana, ben, cy, _ = trio
    sale = _record(ana, _input(factory, "1000.00", (cy.id, "40")))
    sales.approve_sale(ana.manager, sale)
    # Ana: 600.00 at 10%; Cy: 400.00 at 5% (each holder's own plan).
    assert (_commission(ana, sale), _commission(cy, sale)) == (6000, 2000)
    sales.void_sale(ana.manager, sale, "Order cancelled")
    assert (_commission(ana, sale), _commission(cy, sale)) == (0, 0)


def test_an_edit_reallocates_and_moves_holders(factory, trio, monkeypatch):
    ana, ben, cy, _ = trio
    sale = _record(ana, _input(factory, "100.00", (ben.id, "40")))
    sales.update_sale(ana, sale, _input(factory, "250.01", (cy.id, "25"), (ben.id, "25")))
    assert _credits(sale) == [(ana.id, 0, 500_000, 12501), (cy.id, 1, 250_000, 6250), (ben.id, 2, 250_000, 6250)]
    sales.update_sale(ana, sale, _input(factory, "90.00"))  # no co-agents: unsplit again
    assert _credits(sale) == [(ana.id, 0, 1_000_000, 9000)]
    sales.update_sale(ana, sale, _input(factory, "90.00", (ben.id, "50")))
    sales.approve_sale(ana.manager, sale)
    assert (_commission(ana, sale), _commission(ben, sale), _commission(cy, sale)) == (450, 450, 0)


def test_an_edit_and_a_cancel_lock_every_holder_before_and_after_in_id_order(factory, trio, monkeypatch):
    ana, ben, cy, _ = trio
    sale = _record(ana, _input(factory, "100.00", (ben.id, "40")))
    locked: list[list[int]] = []
    monkeypatch.setattr(sales, "lock_agents", lambda ids: locked.append(sorted(set(ids))))
    sales.update_sale(ana, sale, _input(factory, "100.00", (cy.id, "40")))
    sales.cancel_sale(ana, sale)
    assert locked == [sorted({ana.id, ben.id, cy.id}), sorted({ana.id, cy.id})]


def test_without_approval_a_split_sale_posts_for_every_holder_at_once(factory, trio, app):
    from webapp.commissions.periods import get_settings
    ana, ben, *_ = trio
    get_settings().approval_required = False
    db.session.flush()
    sale = _record(ana, _input(factory, "300.00", (ben.id, "33.3333")))
    assert sale.status == "approved"
    assert (_commission(ana, sale), _commission(ben, sale)) == (2000, 1000)


def test_a_batch_carries_co_agents_and_refuses_a_bad_row_alone(factory, trio):
    ana, ben, cy, gone = trio
    items = [sales.BatchItem(_input(factory, "100.00", (ben.id, "30")), uuid.uuid4().hex, ana.id),
             sales.BatchItem(_input(factory, "100.00", (gone.id, "30")), uuid.uuid4().hex, ana.id)]
    good, bad = sales.create_sales(ana.manager, items)
    assert _credits(good.sale) == [(ana.id, 0, 700_000, 7000), (ben.id, 1, 300_000, 3000)]
    assert bad.sale is None and bad.error.field == "co_agent_1"


def test_a_co_agent_may_not_edit_or_cancel_and_a_stranger_gets_404(factory, trio):
    ana, ben, cy, _ = trio
    sale = _record(ana, _input(factory, "100.00", (ben.id, "40")))
    with pytest.raises(ServiceError) as caught:
        sales.update_sale(ben, sale, _input(factory, "100.00"))
    assert caught.value.status == 403
    with pytest.raises(ServiceError) as caught:
        sales.cancel_sale(ben, sale)
    assert caught.value.status == 403
    with pytest.raises(NotFound):
        sales.cancel_sale(cy, sale)
    assert _credits(sale)[1][0] == ben.id and sale.status == "pending"


def test_the_same_key_with_other_shares_is_not_the_same_request(factory, trio):
    ana, ben, *_ = trio
    product = factory.product()
    data = _input(factory, "100.00", (ben.id, "40"), product=product)
    sale = _record(ana, data)
    assert sales.same_request(sale, ana.id, data)
    other = dataclasses.replace(data, co_agents=(sales.CoAgentInput(ben.id, "30"),))
    assert not sales.same_request(sale, ana.id, other)
    assert sales.same_request(sale, ana.id, dataclasses.replace(data, share="60.0000"))


def test_a_decision_refuses_a_sale_whose_co_agents_changed_under_it(factory, today):
    """New holders seen only after the lock would be locked out of id order: 409, nothing decided."""
    today(date(2026, 11, 12))
    ana, ben = factory.user("agent"), factory.user("agent")
    sale = factory.sale(ana, "1000.00", date(2026, 11, 10), approve=False)
    assert [c.agent_id for c in sale.credits] == [ana.id]
    # Another request splits it in the meantime (written past this session's loaded credits).
    db.session.execute(update(SaleCredit).where(SaleCredit.sale_id == sale.id)
                       .values(share_units=600_000, credit_cents=60_000))
    db.session.execute(insert(SaleCredit).values(sale_id=sale.id, agent_id=ben.id, position=1,
                                                 share_units=400_000, credit_cents=40_000, team_id=ben.manager_id))
    with pytest.raises(ServiceError) as refused:
        sales.approve_sale(ana.manager, sale)
    assert refused.value.status == 409 and "co-agents changed" in refused.value.message
    assert sale.status == "pending"
