"""The commission engine: one agent's approved sales of one calendar month in, Decimals out.

Pure: frozen dataclasses in, `LineResult`s out; no app imports, no I/O, no floats. The rules are
COMMISSION_RULES.md (sections 2-4, and 8-10: split credit, attainment tiers, SPIFFs); the golden
cases are commission_cases.json and commission_cases_v2.json. The values it computes with are
validated where they are built (engine_numbers, engine_types, engine_credit, engine_spiffs) and
the results are in engine_results; this module re-exports them, so callers import from here.

Definitions used throughout:

- Allocation order is (date, id). A line whose id is None (a sale being typed, not saved yet)
  sorts after every saved line of the same date, because the id it will get is larger than
  every existing id.
- A line is one holder's credit of a sale: "amount" below means the credited amount
  (`SaleLine.credited`, the whole amount for an unsplit sale).
- Tier volume is the cumulative amount of ALL lines of the month in allocation order: override
  lines and lines with no plan add volume too ("all lines counted"). SPIFF money never does.
- A `target_percent` table is resolved once per month against `target` (threshold = target x
  from% / 100, half-up); with no target its non-override lines earn the first bracket's rate and
  are flagged `no_target`.
- A line's commission is the sum of (portion amount x rate / 100) over its portions, computed
  exactly, then rounded ROUND_HALF_UP to the cent once (`round_money`).
- A line's effective rate (`LineResult.rate`) is the amount-weighted mean of its portions'
  rates, i.e. unrounded commission / amount x 100, rounded ROUND_HALF_UP to four decimals. For
  an unsplit line that is exactly the one rate applied; for a zero amount it is the rate its
  single zero portion would have earned; for a line with no plan it is 0.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal, localcontext
from typing import Any

from webapp.commissions.engine_attainment import (Attainment, NextBracket, attainment_percent, month_attainment,
                                                  next_bracket)
from webapp.commissions.engine_credit import normalise_shares, split_credit
from webapp.commissions.engine_numbers import (CENT, EXACT_CONTEXT, HUNDRED, RATE_QUANTUM, ROUNDING, ZERO_MONEY,
                                               ZERO_RATE, EngineError, MonthError, PlanError, SaleLineError,
                                               SpiffError, SplitError, as_decimal, check_target, round_money, to_money)
from webapp.commissions.engine_results import LineResult, Portion, TierTable
from webapp.commissions.engine_spiffs import Spiff, SpiffResult, check_versions, spiff_rewards
from webapp.commissions.engine_types import (Bracket, Edges, PercentBracket, Plan, RateSource, SaleLine, TierBasis,
                                             TierMode)

__all__ = [
    "CENT", "HUNDRED", "RATE_QUANTUM", "ROUNDING", "ZERO_MONEY", "ZERO_RATE",
    "Bracket", "EngineError", "LineResult", "MonthError", "PercentBracket", "Plan", "PlanError", "Portion",
    "RateSource", "SaleLine", "SaleLineError", "Spiff", "SpiffError", "SpiffResult", "SplitError", "TierBasis",
    "TierMode", "TierTable", "as_decimal", "normalise_shares", "round_money", "split_credit",
    "check_target", "compute_month", "estimate_line", "month_total", "pending_total", "pending_totals", "spiff_total",
    "pending_spiff_total", "Attainment", "NextBracket", "attainment_percent", "month_attainment", "next_bracket",
]

_PLAN = RateSource.PLAN


def _rate_at(edges: Edges, volume: Decimal) -> Decimal:
    """The rate of the bracket that `volume` has reached; brackets are half-open [from, next)."""
    rate = edges[0][2]
    for lower, _, bracket_rate in edges:
        if lower > volume:
            break
        rate = bracket_rate
    return rate


def _split(edges: Edges, first: int, start: Decimal, end: Decimal) -> tuple[Portion, ...]:
    """Split the volume interval [start, end) over the brackets from index `first` on."""
    portions = []
    for lower, upper, rate in edges[first:]:
        if lower >= end:
            break
        top = end if upper is None or upper > end else upper
        bottom = start if start > lower else lower
        # Two target percents rounding to one amount leave an empty bracket: no portion there.
        if top > bottom:
            portions.append(Portion(top - bottom, rate))
    return tuple(portions)


def _sort_key(line: SaleLine) -> tuple[datetime.date, bool, int]:
    """Allocation order: date, then id; an unsaved line (id None) after its date's saved ones."""
    return (line.date, line.id is None, line.id or 0)


def _ordered(lines: Iterable[SaleLine], unsaved_allowed: int) -> list[SaleLine]:
    """Check that the lines make one agent-month and return them in allocation order."""
    lines = list(lines)
    seen: set[int] = set()
    unsaved = 0
    month = None
    for line in lines:
        if not isinstance(line, SaleLine):
            raise TypeError(f"expected SaleLine, got {type(line).__name__}")
        if month is None:
            month = line.date
        elif line.date.month != month.month or line.date.year != month.year:
            raise MonthError(
                f"lines span more than one calendar month ({month:%Y-%m} and {line.date:%Y-%m}); "
                "tier volume is per calendar month"
            )
        if line.id is None:
            unsaved += 1
        elif line.id in seen:
            raise MonthError(f"sale {line.id} appears twice in the month")
        else:
            seen.add(line.id)
    if unsaved > unsaved_allowed:
        raise MonthError("every line needs a sale id (only the candidate of an estimate may lack one)")
    lines.sort(key=_sort_key)
    return lines


def _flat(line: SaleLine, volume: Decimal, rate: Decimal, source: RateSource, table: TierTable | None) -> LineResult:
    """A line earning one rate on its whole credit (called inside the exact context)."""
    amount = line.credited
    return LineResult(line.id, round_money(amount * rate / HUNDRED), rate, (Portion(amount, rate),), source, line,
                      volume, table)


def _marginal(line: SaleLine, volume: Decimal, table: TierTable, cursor: dict[int, int], key: int) -> LineResult:
    """A line under marginal tiers: its own bracket's rate, or split across the brackets it crosses."""
    edges = table.edges
    # Volume only grows, so a plan's bracket cursor never moves back.
    index = cursor.get(key, 0)
    while index + 1 < len(edges) and edges[index + 1][0] <= volume:
        index += 1
    cursor[key] = index
    _, upper, rate = edges[index]
    amount = line.credited
    if upper is None or volume + amount <= upper:
        return _flat(line, volume, rate, _PLAN, table)
    portions = _split(edges, index, volume, volume + amount)
    weighted = sum([p.amount * p.rate for p in portions], Decimal(0))
    # At 60 digits the quotient cannot land on a false half-unit tie, so one quantize is exact.
    rate = (weighted / amount).quantize(RATE_QUANTUM, ROUNDING)
    return LineResult(line.id, round_money(weighted / HUNDRED), rate, portions, _PLAN, line, volume, table)


def _table(plan: Plan, target: Decimal | None) -> TierTable:
    """The plan's tier table as this month uses it (target_percent resolved against the target)."""
    percent = plan.basis is TierBasis.TARGET_PERCENT
    return TierTable(plan.basis, target if percent else None, plan.edges_for(target))


def _allocate(ordered: list[SaleLine], target: Decimal | None = None) -> list[LineResult]:
    """Compute every line of an ordered agent-month in one pass; results in the same order."""
    marginal = TierMode.MARGINAL
    with localcontext(EXACT_CONTEXT):
        total = sum([line.credited for line in ordered], Decimal(0))
        # Per plan (keyed by id(), plans being immutable): its table for the month, the
        # retroactive rate the month's total reached, and the marginal bracket cursor.
        tables: dict[int, TierTable] = {}
        reached: dict[int, Decimal] = {}
        cursor: dict[int, int] = {}
        results = []
        volume = Decimal(0)
        for line in ordered:
            plan = line.plan
            if plan is None:
                results.append(LineResult(line.id, ZERO_MONEY, ZERO_RATE, (), RateSource.NO_PLAN, line, volume))
            elif (override := plan.override_for(line.sku, line.category)) is not None:
                results.append(_flat(line, volume, override[0], override[1], None))
            elif plan.base_rate is not None:
                results.append(_flat(line, volume, plan.base_rate, _PLAN, None))
            else:
                key = id(plan)
                table = tables.get(key)
                if table is None:
                    table = tables[key] = _table(plan, target)
                if table.edges is None:
                    # No target: the first bracket's rate whatever the volume (LineResult.no_target).
                    results.append(_flat(line, volume, plan.tiers[0].rate, _PLAN, table))
                elif plan.tier_mode is marginal:
                    results.append(_marginal(line, volume, table, cursor, key))
                else:
                    rate = reached.get(key)
                    if rate is None:
                        rate = reached[key] = _rate_at(table.edges, total)
                    results.append(_flat(line, volume, rate, _PLAN, table))
            # Every line adds its credit to the volume: override and no-plan lines too.
            volume += line.credited
        return results


def _results(ordered: list[SaleLine], target: Any, spiffs: Iterable[Spiff]) -> list[LineResult]:
    """Commission (and, with SPIFFs, rewards) of every ordered line."""
    results = _allocate(ordered, check_target(target))
    spiffs = check_versions(spiffs)
    if not spiffs:
        return results
    rewards = spiff_rewards(ordered, spiffs)
    return [dataclasses.replace(result, spiffs=found) if found else result
            for result, found in zip(results, rewards)]


def compute_month(lines: Iterable[SaleLine], *, target: Any = None,
                  spiffs: Iterable[Spiff] = ()) -> dict[int, LineResult]:
    """Commission of every line of one agent's approved sales in one calendar month, by sale id.

    `target` is the agent's target for the month (None: no target), used by target_percent
    tables only; `spiffs` the SPIFF versions that may reward the month's lines. The dict is in
    allocation order (date, id). Raises MonthError for mixed months, duplicate ids or a line
    without an id.
    """
    ordered = _ordered(lines, unsaved_allowed=0)
    return {result.sale_id: result for result in _results(ordered, target, spiffs)}


def month_total(results: Mapping[Any, LineResult] | Iterable[LineResult]) -> Decimal:
    """Sum of rounded line commissions (totals are sums of rounded lines, never re-rounded)."""
    values = results.values() if isinstance(results, Mapping) else results
    return sum((r.commission for r in values), ZERO_MONEY)


def spiff_total(results: Mapping[Any, LineResult] | Iterable[LineResult]) -> Decimal:
    """Sum of the lines' rounded SPIFF rewards (apart from commission, as statements show them)."""
    values = results.values() if isinstance(results, Mapping) else results
    return sum((r.spiff_total for r in values), ZERO_MONEY)


def estimate_line(approved_lines: Iterable[SaleLine], candidate: SaleLine, *, target: Any = None,
                  spiffs: Iterable[Spiff] = ()) -> LineResult:
    """What `candidate` would earn if approved now, placed at its (date, id) among the month's lines.

    A candidate with id None (a sale being typed) goes after every approved line of its date, as
    if entered now. A candidate whose id is already among `approved_lines` replaces that line
    (the estimate of an edited sale). Its SPIFF rewards are capped after the month's earlier lines.
    """
    if not isinstance(candidate, SaleLine):
        raise TypeError(f"candidate must be a SaleLine, got {type(candidate).__name__}")
    others = [line for line in approved_lines if candidate.id is None or line.id != candidate.id]
    ordered = _ordered(others + [candidate], unsaved_allowed=1 if candidate.id is None else 0)
    for line, result in zip(ordered, _results(ordered, target, spiffs)):
        if line is candidate:
            return result
    raise AssertionError("the candidate is always among the ordered lines")  # pragma: no cover


def pending_total(approved_lines: Iterable[SaleLine], pending_lines: Iterable[SaleLine], *,
                  target: Any = None) -> Decimal:
    """What approving every pending line would add to the month: engine(all) - engine(approved)."""
    approved = list(approved_lines)
    with_pending = compute_month(approved + list(pending_lines), target=target)
    return month_total(with_pending) - month_total(compute_month(approved, target=target))


def pending_totals(approved_lines: Iterable[SaleLine], pending_sets: Iterable[Iterable[SaleLine]], *,
                   target: Any = None, spiffs: Iterable[Spiff] = ()) -> list[tuple[Decimal, Decimal]]:
    """(pending_total, pending_spiff_total) of each set of pending lines against the same approved
    lines: one pass per set, and the approved month computed once for all of them.

    A month's commissions do not depend on its SPIFFs nor its rewards on the target, so one pass
    gives both figures; a set equal to an earlier one reuses its figures (a panel's month and
    period often hold the same pending sales)."""
    approved, spiffs = list(approved_lines), tuple(spiffs)
    base: tuple[Decimal, Decimal] | None = None
    # By the lines' identities; each set is kept with its figures, so no id is reused meanwhile.
    done: dict[tuple, tuple[list[SaleLine], tuple[Decimal, Decimal]]] = {}
    figures = []
    for pending in pending_sets:
        pending = list(pending)
        key = tuple(id(line) for line in pending)
        if not pending:
            done[key] = (pending, (ZERO_MONEY, ZERO_MONEY))
        elif key not in done:
            if base is None:
                results = compute_month(approved, target=target, spiffs=spiffs)
                base = (month_total(results), spiff_total(results))
            results = compute_month(approved + pending, target=target, spiffs=spiffs)
            done[key] = (pending, (month_total(results) - base[0], spiff_total(results) - base[1]))
        figures.append(done[key][1])
    return figures


def pending_spiff_total(approved_lines: Iterable[SaleLine], pending_lines: Iterable[SaleLine], *,
                        spiffs: Iterable[Spiff]) -> Decimal:
    """What approving every pending line would add to the month's SPIFF rewards (caps included)."""
    approved, spiffs = list(approved_lines), tuple(spiffs)
    with_pending = compute_month(approved + list(pending_lines), spiffs=spiffs)
    return spiff_total(with_pending) - spiff_total(compute_month(approved, spiffs=spiffs))
