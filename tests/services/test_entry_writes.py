"""EntryWrites writes a recompute's entries in bulk: on PostgreSQL inserts by COPY and updates by one
UPDATE ... FROM unnest per set of columns, elsewhere by executemany. Whatever the path, what reads
back is exactly what was asked for: NULLs, booleans, text that needs quoting and JSON derivations.
"""

from datetime import date

from sqlalchemy import select

from webapp.commissions.entry_writes import EntryWrites
from webapp.commissions.models import CommissionEntry, EntryKind
from webapp.commissions.periods import period_for
from webapp.extensions import db

DERIVATION = {"commission": "12.34", "portions": [["100.00", "5"]], "plan": {"name": 'Tiers "Q4" \\ naïve €'},
              "words": ["Line 1,\ttab\nnew line", "quote ' and \" both"], "no_target": False, "target": None}
COLUMNS = ("agent_id", "period_id", "kind", "sale_id", "amount_cents", "rate_units", "plan_version_id", "spiff_id",
           "spiff_version_id", "reason", "late_approval", "derivation", "derivation_digest")


def stored(ids) -> dict[int, tuple]:
    """Every column a write sets, read back through the ORM, by entry id."""
    db.session.expire_all()
    rows = db.session.scalars(select(CommissionEntry).where(CommissionEntry.id.in_(ids)))
    return {row.id: tuple(getattr(row, name) for name in COLUMNS) for row in rows}


def test_bulk_inserts_and_updates_read_back_exactly(factory, today):
    """Many inserts, then updates of two different column sets (one setting NULLs and JSON), read back
    as written; an entry nobody updated keeps its values."""
    agent = factory.user("agent")
    today(date(2026, 11, 20))
    sales = [factory.sale(agent, "100.00", date(2026, 11, 2 + n), approve=False) for n in range(6)]
    period = period_for(date(2026, 11, 2))
    db.session.flush()
    writes = EntryWrites()
    wanted = []
    for n, sale in enumerate(sales):
        values = {"agent_id": agent.id, "period_id": period.id, "kind": EntryKind.ADJUSTMENT, "sale_id": sale.id,
                  "amount_cents": 1000 * n - 2500, "rate_units": None if n % 2 else 50_000 + n,
                  "plan_version_id": None, "spiff_id": None, "spiff_version_id": None,
                  "reason": None if n == 0 else f"Recalculated, n={n}\t\"{n}\"\n\\", "late_approval": n % 3 == 0,
                  "derivation": None if n == 1 else {**DERIVATION, "n": n},
                  "derivation_digest": None if n == 1 else f"{n:032x}"}
        writes.insert(**values)
        wanted.append(tuple(values[name] for name in COLUMNS))
    writes.execute()
    db.session.flush()
    ids = sorted(db.session.scalars(select(CommissionEntry.id).where(CommissionEntry.agent_id == agent.id)))
    assert [stored(ids)[i] for i in ids] == wanted

    entries = [db.session.get(CommissionEntry, i) for i in ids]
    writes = EntryWrites()
    # Two column sets, as a recompute sends them: one keeping its derivation, one replacing it.
    writes.update(entries[0], 7, rate_units=None, plan_version_id=None, spiff_id=None, spiff_version_id=None,
                  reason="kept", late_approval=False, derivation_digest=entries[0].derivation_digest)
    writes.update(entries[2], -3, rate_units=1, plan_version_id=None, spiff_id=None, spiff_version_id=None,
                  reason=None, late_approval=True, derivation={"words": ["é"], "x": None}, derivation_digest="d" * 32)
    writes.update(entries[3], -4, rate_units=None, plan_version_id=None, spiff_id=None, spiff_version_id=None,
                  reason=None, late_approval=False, derivation=None, derivation_digest=None)
    writes.execute()
    db.session.flush()
    after = stored(ids)
    assert after[ids[0]] == (*wanted[0][:4], 7, None, *wanted[0][6:9], "kept", False, *wanted[0][11:])
    assert after[ids[2]] == (*wanted[2][:4], -3, 1, *wanted[2][6:9], None, True, {"words": ["é"], "x": None}, "d" * 32)
    assert after[ids[3]] == (*wanted[3][:4], -4, None, *wanted[3][6:9], None, False, None, None)
    assert [after[i] for i in (ids[1], ids[4], ids[5])] == [wanted[1], wanted[4], wanted[5]]


def test_an_update_that_changes_nothing_writes_nothing(factory, today):
    """An update whose values are the entry's own is dropped before anything is sent."""
    agent = factory.user("agent")
    today(date(2026, 11, 20))
    sale = factory.sale(agent, "100.00", date(2026, 11, 2), approve=False)
    writes = EntryWrites()
    writes.insert(agent_id=agent.id, period_id=period_for(date(2026, 11, 2)).id, kind=EntryKind.ADJUSTMENT,
                  sale_id=sale.id, amount_cents=5, rate_units=None, plan_version_id=None, spiff_id=None,
                  spiff_version_id=None, reason="r", late_approval=False, derivation=DERIVATION, derivation_digest="a" * 32)
    writes.execute()
    entry = db.session.scalar(select(CommissionEntry).where(CommissionEntry.agent_id == agent.id))
    writes = EntryWrites()
    writes.update(entry, 5, rate_units=None, plan_version_id=None, spiff_id=None, spiff_version_id=None, reason="r",
                  late_approval=False, derivation_digest="a" * 32)
    assert writes.updates == []


def test_a_bulk_update_stamps_updated_at_and_stores_none_as_the_orm_does(factory, today):
    """Updated entries get a new updated_at (the column's onupdate), and a None derivation is stored
    as the ORM's own insert stores it (JSON null, not SQL NULL), whichever path wrote it."""
    from sqlalchemy import text

    agent = factory.user("agent")
    today(date(2026, 11, 20))
    sales = [factory.sale(agent, "100.00", date(2026, 11, 2 + n), approve=False) for n in range(2)]
    period = period_for(date(2026, 11, 2))
    orm_entry = CommissionEntry(agent_id=agent.id, period_id=period.id, kind=EntryKind.ADJUSTMENT,
                                sale_id=sales[0].id, amount_cents=1, derivation=None)
    db.session.add(orm_entry)
    writes = EntryWrites()
    writes.insert(agent_id=agent.id, period_id=period.id, kind=EntryKind.ADJUSTMENT, sale_id=sales[1].id,
                  amount_cents=2, rate_units=None, plan_version_id=None, spiff_id=None, spiff_version_id=None,
                  reason=None, late_approval=False, derivation=None, derivation_digest=None)
    writes.execute()
    db.session.flush()
    stored_null = text("SELECT id, derivation IS NULL FROM commission_entries WHERE agent_id = :agent ORDER BY id")
    nulls = db.session.execute(stored_null, {"agent": agent.id}).all()
    assert [is_null for _, is_null in nulls] == [nulls[0][1]] * 2  # both as the ORM stored its own

    db.session.execute(text("UPDATE commission_entries SET updated_at = :old WHERE agent_id = :agent"),
                       {"old": "2000-01-01 00:00:00", "agent": agent.id})
    entry = db.session.scalar(select(CommissionEntry).where(CommissionEntry.sale_id == sales[1].id))
    writes = EntryWrites()
    writes.update(entry, 3, rate_units=None, plan_version_id=None, spiff_id=None, spiff_version_id=None,
                  reason=None, late_approval=False, derivation_digest=None)
    writes.execute()
    db.session.flush()
    db.session.expire_all()
    stamps = {e.sale_id: e.updated_at.year for e in db.session.scalars(
        select(CommissionEntry).where(CommissionEntry.agent_id == agent.id))}
    assert stamps == {sales[0].id: 2000, sales[1].id: stamps[sales[1].id]} and stamps[sales[1].id] > 2000
