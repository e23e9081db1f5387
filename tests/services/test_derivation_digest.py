"""Each ledger entry keeps a digest of its derivation's numbers; a recompute compares digests.

A month recomputed unchanged leaves every stored derivation as it is (words included) and writes
nothing; an entry whose digest does not match the engine's numbers (one from before the digest
existed, or a changed figure) gets the engine's derivation and digest written again.
"""

from datetime import date

import pytest
from sqlalchemy import event, select

from webapp.commissions import ledger
from webapp.commissions.derivations import derivation_digest
from webapp.commissions.models import CommissionEntry, EntryKind
from webapp.commissions.periods import close_period, period_for
from webapp.extensions import db
from webapp.sales.services import void_sale

NOV = date(2026, 11, 1)


def d(day: int) -> date:
    return date(2026, 11, day)


def entries_of(agent) -> list[CommissionEntry]:
    db.session.expire_all()
    return db.session.scalars(select(CommissionEntry).where(CommissionEntry.agent_id == agent.id)
                              .order_by(CommissionEntry.id)).all()


def recompute(agent) -> list[str]:
    """Recompute the agent's November under its lock; the SQL writes it sent."""
    writes = []

    def seen(_conn, _cursor, statement, *_rest):
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        ledger.lock_agent(agent.id)
        ledger.recompute_agent_month(agent.id, NOV)
        db.session.flush()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    return writes


@pytest.fixture
def month(factory, today):
    """An agent with two sales on a tiered plan, and a clawback of a closed period's sale."""
    agent = factory.user("agent")
    factory.assign(agent, factory.plan(tiers=[("0", "3"), ("10000", "5")], tier_mode="marginal"))
    today(d(6))
    voided = factory.sale(agent, "8000.00", d(5))
    factory.sale(agent, "4000.00", d(6))
    today(d(16))
    close_period(None, period_for(d(5)))
    today(d(20))
    void_sale(agent.manager, voided, "customer refunded")
    factory.sale(agent, "1500.00", d(20))
    db.session.commit()
    return agent


def test_every_entry_stores_the_digest_of_its_derivation(month):
    entries = entries_of(month)
    assert {e.kind for e in entries} == {EntryKind.SALE, EntryKind.ADJUSTMENT}
    for entry in entries:
        assert entry.derivation and entry.derivation["words"]
        assert entry.derivation_digest == derivation_digest(entry.derivation)


def test_the_digest_leaves_the_words_out_and_changes_with_any_number(month):
    derivation = entries_of(month)[0].derivation
    assert derivation_digest({**derivation, "words": ["other words"]}) == derivation_digest(derivation)
    assert derivation_digest({**derivation, "commission": "0.01"}) != derivation_digest(derivation)


def test_an_unchanged_month_keeps_every_stored_derivation_and_writes_nothing(month):
    for entry in entries_of(month):
        entry.derivation = {**entry.derivation, "words": [f"kept {entry.id}"]}  # digest unchanged
    db.session.commit()

    assert recompute(month) == []
    assert all(e.derivation["words"] == [f"kept {e.id}"] for e in entries_of(month))


@pytest.mark.parametrize("stored_digest", [None, "0" * 32], ids=["from before the digest", "not matching"])
def test_an_entry_whose_digest_does_not_match_gets_the_engines_derivation_again(month, stored_digest):
    before = {e.id: (e.amount_cents, e.derivation) for e in entries_of(month)}
    line = next(e for e in entries_of(month) if e.kind == EntryKind.SALE and e.period.is_open)
    line.derivation, line.derivation_digest = {"words": ["stale"]}, stored_digest
    db.session.commit()

    writes = recompute(month)

    after = {e.id: (e.amount_cents, e.derivation, e.derivation_digest) for e in entries_of(month)}
    assert len(writes) == 1 and writes[0].lstrip().upper().startswith("UPDATE")
    assert {i: (amount, derivation) for i, (amount, derivation, _) in after.items()} == before
    assert after[line.id][2] == derivation_digest(before[line.id][1])
