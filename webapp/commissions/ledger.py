"""The ledger: loads a holder's month, runs the engine, keeps the month invariant.

MONTH INVARIANT (COMMISSION_RULES.md sections 5, 8 and 10): after any change, for every sale of a
holder's month, the holder's system entries for it add up to the engine's figure for the holder's
credit now (0 when the sale is no longer approved); and for every (sale, SPIFF, holder) the `spiff`
line and the system adjustments for that SPIFF add up to the reward now. Open-period entries are
updated in place (stable ids); closed-period entries never change, so the difference goes to one
system adjustment in the earliest open period. Manual entries are never touched. Lines and
adjustments store the engine's derivation of the figure (`derivation`), from its own result.

Recomputes are set-based: recompute_agents_month settles a month for many holders in a fixed number
of statements (the single-holder recompute is its batch of one), recompute_agents_ranges a range of
months for each of many agents. The month's lines come from month_lines, estimates from estimates and
balances from balances; this module re-exports them as the ledger's one entry point for the rest of
the app.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import NamedTuple

from sqlalchemy import func, select

from webapp import panel_writes
from webapp.auth.models import User
from webapp.commissions import engine
from webapp.commissions.derivations import (Figure, adjustment_derivation, canonical_json, commission_derivation,
                                           commission_digest, commission_words, derivation_digest, spiff_derivation,
                                           spiff_words)
from webapp.commissions.balances import Balance, PeriodSummary, agent_balance, period_summary
from webapp.commissions.entry_writes import EntryWrites, MonthPeriods
from webapp.commissions.estimates import (estimate_new_sale, estimate_new_sale_result, pending_estimates,
                                          pending_total, sale_estimate)
from webapp.commissions.models import CommissionEntry, CommissionPlan, EntryKind, PlanVersion
from webapp.commissions.month_lines import (HolderMonth, PlanResolver, chunks, holder_month, holder_months, month_sales,
                                           sale_line)
from webapp.commissions.periods import month_bounds
from webapp.commissions.spiff_month import MonthSpiffs
from webapp.extensions import db
from webapp.money import rate_to_units, to_cents
from webapp.sales.models import Sale, SaleCredit, SaleStatus
from webapp.spiffs.models import Spiff

__all__ = [
    "Balance", "PeriodSummary", "PlanResolver", "agent_balance", "estimate_new_sale", "estimate_new_sale_result",
    "holder_month", "lock_agent", "lock_agents", "month_sales", "months_between", "pending_estimates", "pending_total",
    "period_summary", "recompute_agent_month", "recompute_agent_range", "recompute_agents_month",
    "recompute_agents_ranges", "sale_estimate", "sale_line",
]


def lock_agent(agent_id: int) -> None:
    """Serialise ledger changes per agent (SELECT ... FOR NO KEY UPDATE on the agent's row).

    Two concurrent changes for one agent would each recompute the month without the other's
    sale. SQLite has no row locks; there BEGIN IMMEDIATE already serialises writers.
    """
    lock_agents([agent_id])


def lock_agents(agent_ids) -> None:
    """Lock several agents (a split sale's holders, a plan's agents) in one statement per CHUNK, in
    ascending id order: two changes that share holders then wait for each other instead of deadlocking."""
    # NO KEY UPDATE: it excludes the other ledger writers (and any update of the agent's row) as
    # FOR UPDATE did, but not a foreign key's check on a row that refers to the agent. Issuing a
    # period holds the period and then writes each agent's statement; a writer holding the agent
    # and waiting for the period made them deadlock under FOR UPDATE.
    for ids in chunks(sorted(set(agent_ids))):
        db.session.execute(select(User.id).where(User.id.in_(ids)).order_by(User.id)
                           .with_for_update(key_share=True)).all()


@dataclass(frozen=True)
class Key:
    """One settled figure of a holder's month: a sale's commission, or one SPIFF's reward on it."""

    sale_id: int
    spiff_id: int | None
    spiff_name: str | None

    @property
    def line_kind(self) -> str:
        """The kind of the figure's line in its own period."""
        return EntryKind.SPIFF if self.spiff_id is not None else EntryKind.SALE


def _plan_labels(version_ids) -> dict[int, dict]:
    """Which plan version each id is, as a derivation names it (one query for the month)."""
    ids = sorted({i for i in version_ids if i is not None})
    if not ids:
        return {}
    rows = db.session.execute(
        select(PlanVersion.id, PlanVersion.version, PlanVersion.effective_from, CommissionPlan.name)
        .join(CommissionPlan, PlanVersion.plan_id == CommissionPlan.id).where(PlanVersion.id.in_(ids)))
    return {row.id: {"name": row.name, "version": row.version, "effective_from": row.effective_from.isoformat()}
            for row in rows}


def _plan_texts(plans: dict[int, dict]) -> dict[int | None, str]:
    """Each plan label's canonical JSON, as a derivation's digest takes it (None: no plan)."""
    return {None: "null", **{version_id: canonical_json(label) for version_id, label in plans.items()}}


def _figures(month: HolderMonth, results: dict[int, engine.LineResult], plans: dict[int, dict] | None = None,
             plan_texts: dict[int | None, str] | None = None) -> dict[tuple, Figure]:
    """The engine's figures by (sale id, spiff id): a commission per line, a reward per SPIFF
    (`plans`: _plan_labels of the month's versions and `plan_texts` _plan_texts of them, when
    already loaded for many holders)."""
    figures = {}
    if plans is None:
        plans = _plan_labels(month.version_ids.values())
    if plan_texts is None:
        plan_texts = _plan_texts(plans)
    for sale_id, result in results.items():
        version_id = month.version_ids.get(sale_id)
        figures[(sale_id, None)] = Figure(to_cents(result.commission), rate_to_units(result.rate), version_id,
                                          None, partial(commission_digest, result, plan_texts.get(version_id, "null")),
                                          partial(commission_derivation, result, plans.get(version_id)),
                                          partial(commission_words, result))
        for reward in result.spiffs:
            spiff_id, spiff_version_id = month.spiffs.ids_of(reward)
            numbers = partial(spiff_derivation, reward, result)
            figures[(sale_id, spiff_id)] = Figure(to_cents(reward.reward), None, None, spiff_version_id,
                                                  lambda numbers=numbers: derivation_digest(numbers()), numbers,
                                                  partial(spiff_words, reward, result))
    return figures


class SaleRow(NamedTuple):
    """What settling a key reads of its sale."""

    sold_on: date
    status: str


class StoredEntry(NamedTuple):
    """A system entry as a recompute reads it (its derivation stands as its digest), with its sale's
    date and status; a tuple, because a batch reads tens of thousands and a row's named columns are slow."""

    id: int
    agent_id: int
    sale_id: int
    spiff_id: int | None
    period_id: int
    kind: str
    amount_cents: int
    rate_units: int | None
    plan_version_id: int | None
    spiff_version_id: int | None
    reason: str | None
    late_approval: bool
    derivation_digest: str | None
    sold_on: date
    status: str


def _month_entries(agent_ids: list[int], first: date, last: date,
                   periods: MonthPeriods) -> tuple[dict[int, dict[tuple, list]], dict]:
    """The holders' system entries for the month's sales, by holder then (sale id, spiff id), oldest
    first, and the sold_on and status of each of their sales (one query per CHUNK of holders)."""
    sale_c, entry_c = Sale.__table__.c, CommissionEntry.__table__.c
    by_agent: dict[int, dict[tuple, list]] = defaultdict(lambda: defaultdict(list))
    sales = {}
    for ids in chunks(agent_ids):
        for row in db.session.execute(
                select(entry_c.id, entry_c.agent_id, entry_c.sale_id, entry_c.spiff_id, entry_c.period_id,
                       entry_c.kind, entry_c.amount_cents, entry_c.rate_units, entry_c.plan_version_id,
                       entry_c.spiff_version_id, entry_c.reason, entry_c.late_approval, entry_c.derivation_digest,
                       sale_c.sold_on, sale_c.status)
                .join(Sale.__table__, entry_c.sale_id == sale_c.id)
                .where(sale_c.sold_on >= first, sale_c.sold_on <= last, entry_c.agent_id.in_(ids),
                       # Exact, and lets the (agent, period) index skip the holders' older history:
                       # a sale's entries are in its own period or, once that closed, in a later one
                       # (periods close in order), and only pending sales change their date. The ids
                       # as values: PostgreSQL then plans with the index.
                       entry_c.period_id.in_(periods.since_first),
                       entry_c.kind.in_((EntryKind.SALE, EntryKind.ADJUSTMENT, EntryKind.SPIFF)))
                .order_by(entry_c.id)):
            entry = StoredEntry(*row)
            by_agent[entry.agent_id][(entry.sale_id, entry.spiff_id)].append(entry)
            sales[entry.sale_id] = SaleRow(entry.sold_on, entry.status)
    return by_agent, sales


def recompute_agent_month(agent_id: int, month_start: date) -> dict[int, engine.LineResult]:
    """Bring a holder's month of system entries in line with the engine (caller holds the lock):
    recompute_agents_month for one holder."""
    return recompute_agents_month([agent_id], month_start)[agent_id]


def recompute_agents_month(agent_ids, month_start: date) -> dict[int, dict[int, engine.LineResult]]:
    """Bring each holder's month of system entries in line with the engine (the caller holds their
    locks: lock_agents), returning each holder's engine results.

    Set-based: a fixed number of statements for any number of holders (holder_months loads every
    line, plan, target and SPIFF at once; one query for their periods, one for their entries, one
    for the plan labels), then the engine per holder; each key that _settled does not find settled
    already goes to _settle, and one bulk write does the inserts, updates and deletes: ids stay stable."""
    db.session.flush()
    agents = sorted(set(agent_ids))
    if not agents:
        return {}
    with _without_cycle_collection():
        first, last = month_bounds(month_start)
        months = holder_months(agents, first)
        periods, writes = MonthPeriods(first, last), EntryWrites()
        entries, sales = _month_entries(agents, first, last, periods)
        for month in months.values():
            for line in month.lines:
                sales.setdefault(line.id, SaleRow(line.date, SaleStatus.APPROVED))
        results = {agent_id: month.compute() for agent_id, month in months.items()}
        plans = _plan_labels(version_id for month in months.values() for version_id in month.version_ids.values())
        plan_texts = _plan_texts(plans)
        figures = {agent_id: _figures(months[agent_id], results[agent_id], plans, plan_texts) for agent_id in agents}
        unsettled = []
        for agent_id in agents:
            by_key, mine = entries.get(agent_id, {}), figures[agent_id]
            for sale_id, spiff_id in mine.keys() | by_key.keys():
                stored, figure = by_key.get((sale_id, spiff_id), []), mine.get((sale_id, spiff_id))
                if not _settled(spiff_id, sales[sale_id], stored, figure, periods):
                    unsettled.append((agent_id, sale_id, spiff_id or 0, spiff_id, stored, figure))
        # Every holder's month shares the one load of the month's SPIFFs.
        names = _spiff_names(months[agents[0]].spiffs, {spiff_id for *_, spiff_id, _, _ in unsettled if spiff_id})
        # In holder then (sale, SPIFF) order, so new entries get their ids in a stable order.
        for agent_id, sale_id, _, spiff_id, stored, figure in sorted(unsettled, key=lambda item: item[:3]):
            _settle(agent_id, Key(sale_id, spiff_id, names.get(spiff_id)), sales[sale_id], stored, figure, periods,
                    writes)
        with panel_writes.writes_for(agents):  # every entry written is one of these holders'
            writes.execute()
    return results


@contextmanager
def _without_cycle_collection():
    """Pause the cyclic garbage collector while a recompute builds and compares its objects.

    A batch of 500 agent-months allocates a few hundred thousand objects and hardly any reference
    cycles, yet the collections its allocations set off walked every live object each time: about a
    quarter of the batch's time (bench/recompute_month.py). Reference counting still frees everything; the
    collector resumes afterwards, unless it was off already."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _settled(spiff_id: int | None, sale: SaleRow, entries: list, figure: Figure | None, periods: MonthPeriods) -> bool:
    """True when _settle would write nothing, because the key's one entry is its line in an open
    period already holding the figure: what most keys of a recompute find, checked without
    building anything a write needs."""
    if figure is None or len(entries) != 1:
        return False
    entry = entries[0]
    line_kind = EntryKind.SPIFF if spiff_id is not None else EntryKind.SALE
    return (entry.kind == line_kind and entry.amount_cents == figure.cents and entry.rate_units == figure.rate_units
            and entry.plan_version_id == figure.version_id and entry.spiff_version_id == figure.spiff_version_id
            and periods.home(sale.sold_on).id in periods.open_ids and entry.derivation_digest == figure.digest)


def _spiff_names(spiffs: MonthSpiffs, spiff_ids: set[int]) -> dict[int, str]:
    """Names of these SPIFFs: the month's, and from the table for one that no longer covers the
    month (ended early: its entries are being clawed back and their reason names it)."""
    names = {spiff_id: spiffs.name_of(spiff_id) for spiff_id in spiff_ids}
    missing = sorted(spiff_id for spiff_id, name in names.items() if name is None)
    if missing:
        names.update(db.session.execute(select(Spiff.id, Spiff.name).where(Spiff.id.in_(missing))).all())
    return names


def _reason(key: Key, sale, has_frozen_line: bool) -> str:
    """Why a system adjustment exists, in words for the statement."""
    what = f" (SPIFF {key.spiff_name})" if key.spiff_id is not None else ""
    if sale.status != SaleStatus.APPROVED:
        return f"Clawback{what}: sale of {sale.sold_on.isoformat()} {sale.status} after its period closed"
    if not has_frozen_line:
        return f"Late approval of a sale dated {sale.sold_on.isoformat()}{what}"
    if key.spiff_id is not None:
        return f"Recalculated{what}: {sale.sold_on:%B %Y} cap or eligibility changed"
    return f"Recalculated: {sale.sold_on:%B %Y} tier volume changed"


def _settle(agent_id: int, key: Key, sale, entries: list, figure: Figure | None, periods: MonthPeriods,
            writes: EntryWrites) -> None:
    """Make one key's system entries sum to its figure (0 without one) without touching closed periods.

    `sale` and `entries` are rows (sold_on and status of the sale; the entry columns)."""
    target = figure.cents if figure else 0
    home = periods.home(sale.sold_on)
    if home.id in periods.open_ids:
        # Nothing of it is frozen: its line simply takes the new figure (or goes).
        line = next((e for e in entries if e.kind == key.line_kind), None)
        for entry in entries:
            if entry is not line or figure is None:
                writes.delete(entry)
        if figure is None:
            return
        if line is None:
            writes.insert(agent_id=agent_id, period_id=home.id, kind=key.line_kind, sale_id=key.sale_id,
                          amount_cents=target, **_columns(key, figure, None, False))
        else:
            writes.update(line, target, **_columns(key, figure, line.reason, line.late_approval, line.derivation_digest))
        return
    frozen = [e for e in entries if e.period_id not in periods.open_ids]
    open_adjustments = [e for e in entries if e.period_id in periods.open_ids]
    difference = target - sum(e.amount_cents for e in frozen)
    if difference == 0:
        for entry in open_adjustments:
            writes.delete(entry)
        return
    has_frozen_line = any(e.kind == key.line_kind for e in frozen)
    late = sale.status == SaleStatus.APPROVED and not has_frozen_line
    reason = _reason(key, sale, has_frozen_line)
    columns = _columns(key, figure, reason, late)
    columns["derivation"] = adjustment_derivation(figure.derivation if figure else None, stated=target - difference,
                                                  now=target, reason=reason)
    columns["derivation_digest"] = derivation_digest(columns["derivation"])
    if open_adjustments:
        keep, *extras = open_adjustments
        for entry in extras:
            writes.delete(entry)
        writes.update(keep, difference, **columns)
    else:
        writes.insert(agent_id=agent_id, period_id=periods.earliest_open().id, kind=EntryKind.ADJUSTMENT,
                      sale_id=key.sale_id, amount_cents=difference, **columns)


def _columns(key: Key, figure: Figure | None, reason: str | None, late: bool, stored_digest: str | None = None) -> dict:
    """The entry columns besides agent, period, kind, sale and amount (`stored_digest`: the entry's
    derivation_digest now; when the figure's numbers match it, the stored derivation and its words stay)."""
    columns = {"rate_units": figure.rate_units if figure else None,
               "plan_version_id": figure.version_id if figure else None,
               "spiff_id": key.spiff_id, "spiff_version_id": figure.spiff_version_id if figure else None,
               "reason": reason, "late_approval": late}
    if figure is None:
        return {**columns, "derivation": None, "derivation_digest": None}
    if stored_digest == figure.digest:
        return {**columns, "derivation_digest": stored_digest}
    return {**columns, "derivation": figure.derivation, "derivation_digest": figure.digest}


def months_between(start: date, end: date) -> list[date]:
    """First days of every month from `start`'s month to `end`'s month."""
    months, cursor = [], start.replace(day=1)
    while cursor <= end:
        months.append(cursor)
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    return months


def recompute_agent_range(agent_id: int, start: date, end: date | None) -> None:
    """Recompute every month with sales the agent holds a credit of between start and end (None: on)."""
    recompute_agents_ranges([(agent_id, start, end)], lock=False)


def recompute_agents_ranges(ranges, lock: bool = True) -> None:
    """Recompute, for each (agent id, start, end or None: on), every month with sales the agent
    holds a credit of between start and end, a month at a time for all its agents at once.

    `lock`: first lock every agent, in one statement in id order (False: the caller holds the locks).
    The months' bounds take one query per distinct (start, end) (a plan's agents share one)."""
    ranges = [(agent_id, start, end) for agent_id, start, end in ranges]
    if lock:
        lock_agents(agent_id for agent_id, _, _ in ranges)
    by_bounds: dict[tuple, list[int]] = defaultdict(list)
    for agent_id, start, end in ranges:
        by_bounds[(start, end)].append(agent_id)
    agents_by_month: dict[date, set[int]] = defaultdict(set)
    for (start, end), agent_ids in by_bounds.items():
        conditions = [Sale.sold_on >= start] + ([Sale.sold_on <= end] if end is not None else [])
        for ids in chunks(sorted(set(agent_ids))):
            for agent_id, low, high in db.session.execute(
                    select(SaleCredit.agent_id, func.min(Sale.sold_on), func.max(Sale.sold_on))
                    .join(SaleCredit, SaleCredit.sale_id == Sale.id)
                    .where(SaleCredit.agent_id.in_(ids), *conditions).group_by(SaleCredit.agent_id)):
                for month in months_between(low, high):
                    agents_by_month[month].add(agent_id)
    for month in sorted(agents_by_month):
        recompute_agents_month(agents_by_month[month], month)
