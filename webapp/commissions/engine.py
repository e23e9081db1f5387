"""The commission engine: one agent's approved sales of one calendar month in, Decimals out.

Pure: frozen dataclasses in, `LineResult`s out; no app imports, no I/O, no floats. The rules are
COMMISSION_RULES.md (sections 2-4); the golden cases are commission_cases.json. The values it
computes with (amounts, rates, plans, sale lines, results, errors) are validated where they are
built, in engine_types.py; this module re-exports them, so callers import everything from here.

Definitions used throughout:

- Allocation order is (date, id). A line whose id is None (a sale being typed, not saved yet)
  sorts after every saved line of the same date, because the id it will get is larger than
  every existing id.
- Tier volume is the cumulative amount of ALL lines of the month in allocation order: override
  lines and lines with no plan add volume too ("all lines counted").
- A line's commission is the sum of (portion amount x rate / 100) over its portions, computed
  exactly, then rounded ROUND_HALF_UP to the cent once (`round_money`).
- A line's effective rate (`LineResult.rate`) is the amount-weighted mean of its portions'
  rates, i.e. unrounded commission / amount x 100, rounded ROUND_HALF_UP to four decimals. For
  an unsplit line that is exactly the one rate applied; for a zero amount it is the rate its
  single zero portion would have earned; for a line with no plan it is 0.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal, localcontext
from typing import Any

from webapp.commissions.engine_types import (CENT, EXACT_CONTEXT, HUNDRED, RATE_QUANTUM, ROUNDING, ZERO_MONEY,
                                             ZERO_RATE, Bracket, EngineError, LineResult, MonthError, Plan,
                                             PlanError, Portion, RateSource, SaleLine, SaleLineError, TierMode,
                                             as_decimal, round_money)

__all__ = [
    "CENT", "HUNDRED", "RATE_QUANTUM", "ROUNDING", "ZERO_MONEY", "ZERO_RATE",
    "Bracket", "EngineError", "LineResult", "MonthError", "Plan", "PlanError", "Portion", "RateSource",
    "SaleLine", "SaleLineError", "TierMode", "as_decimal", "round_money",
    "compute_month", "estimate_line", "month_total", "pending_total",
]


def _rate_at(edges: tuple[tuple[Decimal, Decimal | None, Decimal], ...], volume: Decimal) -> Decimal:
    """The rate of the bracket that `volume` has reached; brackets are half-open [from, next)."""
    rate = edges[0][2]
    for lower, _, bracket_rate in edges:
        if lower > volume:
            break
        rate = bracket_rate
    return rate


def _split(
    edges: tuple[tuple[Decimal, Decimal | None, Decimal], ...], first: int, start: Decimal, end: Decimal
) -> tuple[Portion, ...]:
    """Split the volume interval [start, end) over the brackets from index `first` on."""
    portions = []
    for lower, upper, rate in edges[first:]:
        if lower >= end:
            break
        top = end if upper is None or upper > end else upper
        portions.append(Portion(top - (start if start > lower else lower), rate))
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


def _split_result(line: SaleLine, portions: tuple[Portion, ...]) -> LineResult:
    """A line split across brackets: sum the portions exactly, round once, weigh the rate."""
    weighted = sum([p.amount * p.rate for p in portions], Decimal(0))
    # At 60 digits the quotient cannot land on a false half-unit tie, so one quantize is exact.
    rate = (weighted / line.amount).quantize(RATE_QUANTUM, ROUNDING)
    return LineResult(line.id, round_money(weighted / HUNDRED), rate, portions, RateSource.PLAN)


def _allocate(ordered: list[SaleLine]) -> list[LineResult]:
    """Compute every line of an ordered agent-month in one pass; results in the same order."""
    plan_rate, marginal, no_plan = RateSource.PLAN, TierMode.MARGINAL, RateSource.NO_PLAN
    with localcontext(EXACT_CONTEXT):
        total = sum([line.amount for line in ordered], Decimal(0))
        # Per plan (keyed by id(), plans being immutable): the retroactive rate the month's total
        # reached, and the marginal bracket the running volume is in. Volume only grows, so a
        # bracket cursor never moves back, and a line inside one bracket needs no split.
        reached: dict[int, Decimal] = {}
        cursor: dict[int, int] = {}
        results = []
        volume = Decimal(0)
        for line in ordered:
            plan = line.plan
            amount = line.amount
            if plan is None:
                results.append(LineResult(line.id, ZERO_MONEY, ZERO_RATE, (), no_plan))
                volume += amount  # "all lines counted": a line with no plan still adds volume
                continue
            source = plan_rate
            override = plan.override_for(line.sku, line.category)
            if override is not None:
                rate, source = override
            elif plan.base_rate is not None:
                rate = plan.base_rate
            elif plan.tier_mode is marginal:
                edges = plan._edges
                index = cursor.get(id(plan), 0)
                while index + 1 < len(edges) and edges[index + 1][0] <= volume:
                    index += 1
                cursor[id(plan)] = index
                upper = edges[index][1]
                rate = edges[index][2]
                if upper is not None and volume + amount > upper:
                    results.append(_split_result(line, _split(edges, index, volume, volume + amount)))
                    volume += amount
                    continue
            else:
                rate = reached.get(id(plan))
                if rate is None:
                    rate = reached[id(plan)] = _rate_at(plan._edges, total)
            commission = round_money(amount * rate / HUNDRED)
            results.append(LineResult(line.id, commission, rate, (Portion(amount, rate),), source))
            # Override lines add volume too: they keep their rate but count toward the tiers.
            volume += amount
        return results


def compute_month(lines: Iterable[SaleLine]) -> dict[int, LineResult]:
    """Commission of every line of one agent's approved sales in one calendar month, by sale id.

    The dict is in allocation order (date, id). Raises MonthError for mixed months, duplicate
    ids or a line without an id.
    """
    ordered = _ordered(lines, unsaved_allowed=0)
    return {result.sale_id: result for result in _allocate(ordered)}


def month_total(results: Mapping[Any, LineResult] | Iterable[LineResult]) -> Decimal:
    """Sum of rounded line commissions (totals are sums of rounded lines, never re-rounded)."""
    values = results.values() if isinstance(results, Mapping) else results
    return sum((r.commission for r in values), ZERO_MONEY)


def estimate_line(approved_lines: Iterable[SaleLine], candidate: SaleLine) -> LineResult:
    """What `candidate` would earn if approved now, placed at its (date, id) among the month's lines.

    A candidate with id None (a sale being typed) goes after every approved line of its date, as
    if entered now. A candidate whose id is already among `approved_lines` replaces that line
    (the estimate of an edited sale).
    """
    if not isinstance(candidate, SaleLine):
        raise TypeError(f"candidate must be a SaleLine, got {type(candidate).__name__}")
    others = [line for line in approved_lines if candidate.id is None or line.id != candidate.id]
    ordered = _ordered(others + [candidate], unsaved_allowed=1 if candidate.id is None else 0)
    results = _allocate(ordered)
    for line, result in zip(ordered, results):
        if line is candidate:
            return result
    raise AssertionError("the candidate is always among the ordered lines")  # pragma: no cover


def pending_total(approved_lines: Iterable[SaleLine], pending_lines: Iterable[SaleLine]) -> Decimal:
    """What approving every pending line would add to the month: engine(all) - engine(approved)."""
    approved = list(approved_lines)
    with_pending = compute_month(approved + list(pending_lines))
    return month_total(with_pending) - month_total(compute_month(approved))
