"""Attainment of a month (COMMISSION_RULES.md section 9): how far the volume is toward the target,
and how much more volume reaches the next bracket of a `target_percent` table.

Pure, like every engine module. Both figures are read from the same numbers the allocation uses:
the volume is the holder's credited amounts of the month's approved lines (every line counted,
override and no-plan lines too), and a bracket's threshold is `Plan.thresholds` (target x from% /
100, half-up to the cent), so "sell X more to reach Y%" is exactly the amount at which the engine
starts paying that bracket's rate:

- attainment percent = volume / target x 100, rounded DOWN to 0.01 (never shows 100.00% before
  the target is reached); None with no target.
- the next bracket is the first whose threshold amount is above the volume (brackets are
  half-open, so a volume exactly at a threshold is already in that bracket). When two percents
  round to one amount, the lower bracket is empty (section 9) and the higher one is the bracket
  reached there, so its percent is the Y shown. X = threshold - volume, at least 0.01. None when
  the volume has reached the last bracket, or with no target.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from decimal import Decimal

from webapp.commissions.engine_numbers import EXACT_CONTEXT, EngineError, PlanError, check_target, to_money
from webapp.commissions.engine_types import Plan, SaleLine, TierBasis

__all__ = ["Attainment", "NextBracket", "attainment_percent", "month_attainment", "next_bracket"]


@dataclasses.dataclass(frozen=True, slots=True)
class NextBracket:
    """The next bracket of a target_percent table: sell `more` to reach `percent` of the target.

    `threshold` is where the bracket starts as an amount (target x percent / 100, half-up), `rate`
    the rate it pays; volume + more == threshold exactly.
    """

    percent: Decimal
    threshold: Decimal
    more: Decimal
    rate: Decimal


@dataclasses.dataclass(frozen=True, slots=True)
class Attainment:
    """A holder's month against their target: volume, target, percent reached and the next bracket."""

    volume: Decimal
    target: Decimal | None
    percent: Decimal | None
    next: NextBracket | None


def _cents(amount: Decimal) -> int:
    """Exact cents of a two-place amount."""
    return int(amount.scaleb(2, EXACT_CONTEXT))


def attainment_percent(volume, target) -> Decimal | None:
    """Volume as a percent of the target, rounded DOWN to 0.01; None with no target."""
    target = check_target(target)
    volume = to_money(volume, "volume", EngineError)
    if target is None:
        return None
    # Integer arithmetic in cents: exact, and floor division is the rounding down.
    hundredths = _cents(volume) * 10_000 // _cents(target)
    return Decimal(hundredths).scaleb(-2, EXACT_CONTEXT)


def next_bracket(plan: Plan, volume, target) -> NextBracket | None:
    """The next bracket above `volume` of a target_percent plan for a month with `target`.

    None with no target, or once the volume has reached the last bracket. Raises PlanError for a
    plan that is not a target_percent tier table (its brackets are not percents of a target).
    """
    if not isinstance(plan, Plan):
        raise TypeError(f"plan must be a Plan, got {type(plan).__name__}")
    if plan.basis is not TierBasis.TARGET_PERCENT:
        raise PlanError("only a target_percent tier table has brackets at percents of the target")
    target = check_target(target)
    volume = to_money(volume, "volume", EngineError)
    if target is None:
        return None
    thresholds = plan.thresholds(target)
    index = next((i for i, threshold in enumerate(thresholds) if threshold > volume), None)
    if index is None:
        return None
    # Percents rounding to the same amount: the last of them is the bracket paid from there.
    while index + 1 < len(thresholds) and thresholds[index + 1] == thresholds[index]:
        index += 1
    bracket = plan.tiers[index]
    threshold = thresholds[index]
    return NextBracket(percent=bracket.start, threshold=threshold, more=EXACT_CONTEXT.subtract(threshold, volume),
                       rate=bracket.rate)


def month_attainment(lines: Iterable[SaleLine], plan: Plan | None, target) -> Attainment:
    """A holder's attainment from the month's approved lines (their credited amounts, all counted).

    `plan` is the holder's plan the next sale would earn under; the next bracket is given only
    for a target_percent plan (None otherwise).
    """
    volume = Decimal("0.00")
    for line in lines:
        volume = EXACT_CONTEXT.add(volume, line.credited)
    target = check_target(target)
    following = None
    if plan is not None and plan.basis is TierBasis.TARGET_PERCENT:
        following = next_bracket(plan, volume, target)
    return Attainment(volume=volume, target=target, percent=attainment_percent(volume, target), next=following)
