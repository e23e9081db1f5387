"""The set-based month recompute (ledger.recompute_agents_month and recompute_agents_ranges) writes,
row for row, the ledger that recomputing each agent alone by the old single-agent path writes.

Each hypothesis example builds a random world through the services with the sequence test's
builders (tests/services/test_ledger_properties.py: several agents on flat, marginal, retroactive
and attainment plans with category and product overrides, plan changes mid-quarter with days
without a plan, two SPIFFs, split sales, pending, rejected, cancelled and voided sales, closed
periods with their lines), then disturbs it behind the ledger's back so a recompute has work to do:
a new plan version (drawn rules, both tier modes) effective mid-month, targets, sale statuses
changed without a recompute, open lines edited or deleted, and manual entries. Then, from the same
state (each in a rolled-back savepoint):

- the batch: recompute_agents_month for all agents, month by month;
- the oracle: OLD_recompute_agent_month below (the single-agent path as it was before issue 16:
  holder_month, _figures, its own entries and sales queries, ledger._settle), agent by agent;

and the two ledgers must match row for row (id, agent, sale, SPIFF, kind, period, amount, rate,
plan and SPIFF version, reason, late approval, derivation; a row either created gets no id to
compare, as PostgreSQL's sequences do not roll back). The batched ledger must also hold the month
invariant against the sequence test's own engine oracle (every holder's system entries of a sale
add up to engine.compute_month's figure), leave closed periods and manual entries untouched. The
range variant is compared the same way with the old per-agent range loop.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from tests.services.test_ledger_properties import (FIRST_DAY, KINDS, SPEC_NAMES, agent_setups, apply,
                                                   build_world, engine_plan_of, operations, oracle, rules_of)
from tests.support.rows import sql_statements
from webapp.commissions import ledger, plan_versions
from webapp.commissions.entry_writes import EntryWrites, MonthPeriods
from webapp.commissions.models import CommissionEntry, CommissionPlan, EntryKind, Period, Target
from webapp.commissions.periods import earliest_open_period, get_settings
from webapp.extensions import db
from webapp.money import to_cents
from webapp.sales.models import Sale, SaleCredit

MONTHS = (date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1))
STATUSES = ("approved", "approved", "pending", "rejected", "voided", "cancelled")
# Columns that say when a row was written, not what it says.
SKIPPED = {"id", "created_at", "updated_at"}

# -------------------------------------------------------------------------------------------------
# The oracle: the single-agent recompute as it was before the set-based one (issue 16, item 1)


def OLD_month_entries(agent_id, month) -> dict[tuple, list]:  # noqa: N802 - named for what it was
    """The holder's system entries for the month's sales, by (sale id, spiff id), oldest first."""
    sale_c, entry_c = Sale.__table__.c, CommissionEntry.__table__.c
    rows = db.session.execute(
        select(entry_c.id, entry_c.sale_id, entry_c.spiff_id, entry_c.period_id, entry_c.kind, entry_c.amount_cents,
               entry_c.rate_units, entry_c.plan_version_id, entry_c.spiff_version_id, entry_c.reason,
               entry_c.late_approval, entry_c.derivation, entry_c.derivation_digest)
        .join(Sale.__table__, entry_c.sale_id == sale_c.id)
        .where(sale_c.sold_on >= month.first, sale_c.sold_on <= month.last, entry_c.agent_id == agent_id,
               entry_c.kind.in_((EntryKind.SALE, EntryKind.ADJUSTMENT, EntryKind.SPIFF)))
        .order_by(entry_c.id)).all()
    by_key: dict[tuple, list] = defaultdict(list)
    for entry in rows:
        by_key[(entry.sale_id, entry.spiff_id)].append(entry)
    return by_key


def OLD_recompute_agent_month(agent_id: int, month_start: date):  # noqa: N802
    """ledger.recompute_agent_month before issue 16: one agent's loads, engine, settle, writes."""
    db.session.flush()
    month = ledger.holder_month(agent_id, month_start)
    results = month.compute()
    figures, by_key = ledger._figures(month, results), OLD_month_entries(agent_id, month)
    keys = set(figures) | set(by_key)
    sale_c = Sale.__table__.c
    sale_ids = sorted({sale_id for sale_id, _ in keys})
    sales = {}
    for start in range(0, len(sale_ids), 500):
        sales.update((row.id, row) for row in db.session.execute(
            select(sale_c.id, sale_c.sold_on, sale_c.status).where(sale_c.id.in_(sale_ids[start:start + 500]))))
    periods, writes = MonthPeriods(month.first, month.last), EntryWrites()
    names = ledger._spiff_names(month.spiffs, {spiff_id for _, spiff_id in keys if spiff_id is not None})
    for sale_id, spiff_id in sorted(keys, key=lambda k: (k[0], k[1] or 0)):
        key = ledger.Key(sale_id, spiff_id, names.get(spiff_id))
        ledger._settle(agent_id, key, sales[sale_id], by_key.get((sale_id, spiff_id), []),
                       figures.get((sale_id, spiff_id)), periods, writes)
    writes.execute()
    return results


def OLD_recompute_agent_range(agent_id: int, start: date, end: date | None) -> None:  # noqa: N802
    """ledger.recompute_agent_range before issue 16 (months of the agent's credited sales in range)."""
    conditions = [SaleCredit.agent_id == agent_id, Sale.sold_on >= start]
    if end is not None:
        conditions.append(Sale.sold_on <= end)
    bounds = db.session.execute(select(func.min(Sale.sold_on), func.max(Sale.sold_on))
                                .join(SaleCredit, SaleCredit.sale_id == Sale.id).where(*conditions)).one()
    if bounds[0] is None:
        return
    for month in ledger.months_between(bounds[0], bounds[1]):
        OLD_recompute_agent_month(agent_id, month)

# -------------------------------------------------------------------------------------------------
# Disturbing the ledger behind its back


disturbances = st.lists(st.one_of(
    st.tuples(st.just("version"), st.integers(0, len(KINDS) - 1), st.integers(0, 2), st.integers(2, 27),
              st.integers(0, len(SPEC_NAMES) - 1)),
    st.tuples(st.just("target"), st.integers(0, 3), st.integers(0, 2), st.sampled_from([None, 150_000, 900_000])),
    st.tuples(st.just("status"), st.integers(0, 60), st.sampled_from(STATUSES)),
    st.tuples(st.just("edit"), st.integers(0, 60), st.integers(-5_000, 5_000)),
    st.tuples(st.just("drop"), st.integers(0, 60)),
    st.tuples(st.just("manual"), st.integers(0, 3), st.integers(0, 60), st.integers(-9_999, 9_999)),
), min_size=1, max_size=8)


def _open_system_entries() -> list:
    """The system entries of open periods, by id (what a disturbance may edit or delete)."""
    return list(db.session.scalars(
        select(CommissionEntry).join(Period, CommissionEntry.period_id == Period.id)
        .where(Period.status == "open", CommissionEntry.kind != EntryKind.MANUAL).order_by(CommissionEntry.id)))


def disturb(world, change: tuple) -> None:
    """Apply one disturbance without any recompute, keeping the sequence test's model in step."""
    name = change[0]
    if name == "version":
        # A new version of a plan effective mid-month (an open day), its recompute left out.
        _, plan_index, month_index, day, spec_index = change
        effective = MONTHS[month_index] + timedelta(days=day)
        closed = world.closed_end is not None and effective <= world.closed_end
        plan = db.session.get(CommissionPlan, world.plans[plan_index].id)
        if closed or any(v.effective_from == effective for v in plan.versions):
            return
        spec = SPEC_NAMES[spec_index]
        with mock.patch.object(plan_versions, "recompute_plan_agents", lambda *args, **kwargs: None):
            plan_versions.add_version(world.admin, plan, rules_of(spec, world.overrides[plan_index], world), effective)
        world.versions[plan_index] = sorted(world.versions[plan_index] + [
            (effective, engine_plan_of(spec, world.overrides[plan_index], world))], key=lambda v: v[0])
    elif name == "target":
        _, agent_index, month_index, cents = change
        agent, month = world.agents[agent_index % len(world.agents)], MONTHS[month_index]
        row = db.session.scalar(select(Target).where(Target.agent_id == agent.id, Target.month == month))
        if cents is None:
            if row is not None:
                db.session.delete(row)
            world.targets.pop((agent_index % len(world.agents), month), None)
        else:
            if row is None:
                db.session.add(Target(agent_id=agent.id, month=month, amount_cents=cents))
            else:
                row.amount_cents = cents
            world.targets[(agent_index % len(world.agents), month)] = cents
    elif name == "status":
        _, index, status = change
        if world.sales:
            sale = world.sales[sorted(world.sales)[index % len(world.sales)]]
            db.session.execute(update(Sale).where(Sale.id == sale.id).values(status=status))
            sale.status = status
    elif name in ("edit", "drop"):
        entries = _open_system_entries()
        if entries:
            entry = entries[change[1] % len(entries)]
            if name == "drop":
                db.session.delete(entry)
            else:
                entry.amount_cents += change[2] or 1
    elif name == "manual":
        _, agent_index, index, cents = change
        sale_id = sorted(world.sales)[index % len(world.sales)] if world.sales and index % 2 else None
        db.session.add(CommissionEntry(agent_id=world.agents[agent_index % len(world.agents)].id,
                                       period_id=earliest_open_period().id, kind=EntryKind.MANUAL,
                                       sale_id=sale_id, amount_cents=cents or 1, reason="manual correction"))
    db.session.flush()

# -------------------------------------------------------------------------------------------------
# Comparing ledgers


def ledger_rows(known_ids: set[int]) -> list[tuple]:
    """Every entry as a comparable tuple: its id if it existed before the recompute (else None),
    then every column that says what it is (the derivation as canonical JSON)."""
    db.session.flush()
    # A period is named by its first day: one the recompute creates gets a new id from a sequence
    # that a rolled-back savepoint does not give back, so each run would see a different id.
    starts = dict(db.session.execute(select(Period.id, Period.start_date)).all())
    rows = []
    for entry in db.session.execute(select(CommissionEntry.__table__)).mappings():
        entry = {**entry, "period_id": starts[entry["period_id"]]}
        values = tuple((name, json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value)
                       for name, value in sorted(entry.items()) if name not in SKIPPED)
        rows.append((entry["id"] if entry["id"] in known_ids else None, values))
    return sorted(rows, key=repr)


def in_savepoint(work) -> list[tuple]:
    """Run `work` in a savepoint, read the ledger it leaves, and roll it back."""
    known = set(db.session.scalars(select(CommissionEntry.id)))
    savepoint = db.session.begin_nested()
    try:
        work()
        return ledger_rows(known)
    finally:
        savepoint.rollback()
        db.session.expire_all()


def check_invariant(world, rows: list[tuple], before: list[tuple]) -> None:
    """The batched ledger: every holder's system entries of a sale add up to the engine's figure for
    their credit (the sequence test's oracle, from its own model); closed periods and manual entries
    are as they were."""
    expected = oracle(world)
    index_of = {a.id: i for i, a in enumerate(world.agents)}
    spiff_names = {spiff_id: rule.name for spiff_id, rule in world.spiffs}
    sums: dict[tuple, int] = defaultdict(int)
    for _, values in rows:
        entry = dict(values)
        if entry["kind"] != EntryKind.MANUAL:
            sums[(entry["sale_id"], index_of[entry["agent_id"]], entry["spiff_id"])] += entry["amount_cents"]
    for sale in world.sales.values():
        for holder, _ in sale.holders:
            result = expected.get((sale.id, holder))
            assert sums.get((sale.id, holder, None), 0) == (to_cents(result.commission) if result else 0), (
                f"sale {sale.id} ({sale.status}, {sale.sold_on}) holder {holder}")
            for spiff_id, name in spiff_names.items():
                rewards = [r.reward for r in (result.spiffs if result else ()) if r.spiff.name == name]
                assert sums.get((sale.id, holder, spiff_id), 0) == (to_cents(sum(rewards)) if rewards else 0)
    closed = set(db.session.scalars(select(Period.start_date).where(Period.status == "closed")))

    def frozen(ledger_rows_: list[tuple]) -> list[tuple]:
        """The rows of closed periods and the manual entries."""
        return [row for row in ledger_rows_ if dict(row[1])["period_id"] in closed
                or dict(row[1])["kind"] == EntryKind.MANUAL]

    assert frozen(rows) == frozen(before)


@settings(max_examples=min(settings.default.max_examples, 20), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(setups=st.lists(agent_setups(), min_size=3, max_size=4).map(
           lambda drawn: [("attain", *drawn[0][1:])] + drawn[1:]),  # one attainment plan at least: targets count
       overrides=st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()),
       spiff_setup=st.tuples(st.booleans(), st.sampled_from([None, "25.00"]), st.booleans(),
                             st.sampled_from([None, "15.00"])),
       approval_required=st.booleans(),
       cadence=st.sampled_from(["semi_monthly", "monthly"]),
       ops=st.lists(operations, min_size=10, max_size=30),
       targets=st.lists(st.sampled_from([None, 150_000, 900_000, 2_000_000]), min_size=12, max_size=12),
       changes=disturbances)
def test_the_batch_writes_the_ledger_each_agent_alone_writes(factory, today, setups, overrides, spiff_setup,
                                                              approval_required, cadence, ops, targets, changes):
    """Batched recompute of every agent == the old recompute of each agent alone, row for row; and
    the batched ledger keeps the month invariant."""
    example = db.session.begin_nested()
    try:
        settings_row = get_settings()
        settings_row.approval_required, settings_row.period_cadence = approval_required, cadence
        db.session.flush()
        world = build_world(factory, setups, overrides, spiff_setup)
        world.today = today(FIRST_DAY)
        for op in ops:
            apply(world, op, today)
        # Every agent-month's target changed behind the ledger's back (each agent's own figure).
        for number, cents in enumerate(targets):
            disturb(world, ("target", number % len(world.agents), number // 4 % 3, cents))
        for change in changes:
            disturb(world, change)
        agent_ids = [agent.id for agent in world.agents]
        before = in_savepoint(lambda: None)

        def batched():
            """All agents at once, a month at a time."""
            ledger.lock_agents(agent_ids)
            for month in MONTHS:
                ledger.recompute_agents_month(agent_ids, month)

        def alone():
            """Each agent alone, by the old path."""
            for month in MONTHS:
                for agent_id in sorted(agent_ids):
                    OLD_recompute_agent_month(agent_id, month)

        batch_rows, alone_rows = in_savepoint(batched), in_savepoint(alone)
        assert batch_rows == alone_rows
        check_invariant(world, batch_rows, before)

        # The range variant against the old per-agent range loop, from a drawn start per agent.
        ranges = [(agent_id, FIRST_DAY + timedelta(days=17 * number), None if number % 2 else date(2026, 12, 20))
                  for number, agent_id in enumerate(agent_ids)]
        ranged = in_savepoint(lambda: ledger.recompute_agents_ranges(ranges))
        assert ranged == in_savepoint(lambda: [OLD_recompute_agent_range(*item) for item in ranges])
    finally:
        example.rollback()
        db.session.expunge_all()


def test_the_oracle_comparison_is_not_vacuous(factory, today):
    """A batch that skipped an agent, or the old path on a disturbed ledger, is told apart: the
    comparison sees a single differing row."""
    example = db.session.begin_nested()
    try:
        world = build_world(factory, [("marginal", None, "flat", 0), ("retroactive", 20, "flat", 3),
                                      ("flat", None, "flat", 0)], (True, True, True))
        world.today = today(FIRST_DAY)
        for op in [("sale", 0, 5, 500_000, 1, 1, False), ("sale", 1, 90, 300_000, 2, 2, False),
                   ("sale", 2, 9, 200_000, 1, 0, False)]:
            apply(world, op, today)
        entry = _open_system_entries()[0]
        entry.amount_cents += 7
        db.session.flush()
        agent_ids = [agent.id for agent in world.agents]
        all_of_them = in_savepoint(lambda: ledger.recompute_agents_month(agent_ids, MONTHS[0]))
        assert all_of_them == in_savepoint(lambda: [OLD_recompute_agent_month(a, MONTHS[0]) for a in agent_ids])
        skipped = [a for a in agent_ids if a != entry.agent_id]
        assert all_of_them != in_savepoint(lambda: ledger.recompute_agents_month(skipped, MONTHS[0]))
    finally:
        example.rollback()
        db.session.expunge_all()


def test_a_batch_locks_every_agent_in_one_statement_in_id_order(factory, today):
    """recompute_agents_ranges takes its agents' locks in one SELECT ... ORDER BY id, before any read."""
    example = db.session.begin_nested()
    try:
        world = build_world(factory, [("flat", None, "flat", 0)] * 3, (False, False, False))
        world.today = today(FIRST_DAY)
        apply(world, ("sale", 0, 5, 500_000, 1, 1, False), today)
        agent_ids = [agent.id for agent in world.agents]
        db.session.flush()
        with sql_statements(transaction_control=False) as statements:
            ledger.recompute_agents_ranges([(agent_id, FIRST_DAY, None) for agent_id in reversed(agent_ids)])
        locks = [s for s in statements if "FROM users" in s]
        assert len(locks) == 1 and "ORDER BY users.id" in locks[0] and statements[0] == locks[0]
    finally:
        example.rollback()
        db.session.expunge_all()


def test_a_batch_takes_the_same_statements_for_three_agents_as_for_thirty(factory, today):
    """The statements of a month's recompute do not grow with the number of agents."""
    example = db.session.begin_nested()
    try:
        today(FIRST_DAY + timedelta(days=20))
        world = build_world(factory, [("marginal", None, "flat", 0)] * 30, (True, True, True))
        world.today = today(FIRST_DAY + timedelta(days=20))
        for number in range(30):
            apply(world, ("sale", number, 4 * number + 1, 100_000 + number, 1, number % 3, False), today)
        ids = [agent.id for agent in world.agents]

        def count(agent_ids):
            """Statements of a steady recompute of these agents' October."""
            savepoint = db.session.begin_nested()
            try:
                with sql_statements(transaction_control=False) as statements:
                    ledger.recompute_agents_month(agent_ids, MONTHS[0])
                return len(statements)
            finally:
                savepoint.rollback()

        assert count(ids) == count(ids[:3]) <= 20
    finally:
        example.rollback()
        db.session.expunge_all()
