"""A line's derivation in words: what the engine did to reach a figure, from its own result.

Pure. Reads only a LineResult (and the SpiffResults it carries); computes nothing new apart from
formatting, so the words always match the amounts. Pages, statements and the API can show the
structured fields of LineResult instead, or these sentences beside them.
"""

from __future__ import annotations

from decimal import Decimal

from webapp.commissions.engine_results import LineResult
from webapp.commissions.engine_spiffs import SpiffResult
from webapp.commissions.engine_types import Plan, RateSource, SaleLine, TierBasis


def money(value: Decimal) -> str:
    """Money as people read it: 1,234.50."""
    return f"{value:,.2f}"


def percent(value: Decimal) -> str:
    """A rate or share without trailing zeros: 3%, 2.5%, 33.3334%."""
    text = f"{value:f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


def exact(value: Decimal) -> str:
    """An unrounded figure with every digit it has, trailing zeros dropped (12.667)."""
    text = f"{value:f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return text if "." in text and len(text.partition(".")[2]) > 2 else f"{value:.2f}"


def _credit(line: SaleLine) -> str:
    """The holder's credit of a split sale."""
    role = "primary" if line.primary else "co-agent"
    rule = "the amount less the co-agents' credits" if line.primary else "rounded down to the cent"
    return (f"Credit: {money(line.credited)} of the sale's {money(line.amount)} ({role}, share "
            f"{percent(line.share)}; {rule}).")


def _plan(result: LineResult, plan: Plan) -> str:
    """The plan and which of its rates applied."""
    if result.source is RateSource.PRODUCT:
        return f"Override: product {result.line.sku} at {percent(result.rate)} (product > category > plan)."
    if result.source is RateSource.CATEGORY:
        return f"Override: category {result.line.category} at {percent(result.rate)} (category > plan)."
    if plan.base_rate is not None:
        return f"Plan: base rate {percent(plan.base_rate)}."
    return f"Plan: {plan.tier_mode} tiers on {'the target' if plan.basis is TierBasis.TARGET_PERCENT else 'volume'}."


def _table(result: LineResult) -> list[str]:
    """Target and threshold amounts of an attainment table (nothing for an amount table)."""
    table = result.table
    if table is None or table.basis is not TierBasis.TARGET_PERCENT:
        return []
    if table.target is None:
        return ["No target for the month: the first bracket's rate applies whatever the volume "
                "(flagged \"no target\")."]
    steps = ", ".join(f"{percent(b.start)} -> {money(t)}" for b, t in zip(result.plan.tiers, table.thresholds))
    return [f"Target {money(table.target)}; thresholds (target x from% / 100, half-up): {steps}."]


def _portions(result: LineResult) -> str:
    """Each bracket portion with its rate."""
    parts = "; ".join(f"{money(p.amount)} x {percent(p.rate)}" for p in result.portions)
    return f"Portions: {parts}."


def explain_spiff(spiff: SpiffResult, line: SaleLine) -> str:
    """One SPIFF reward in words: the reward rule, the holder's part, the cap."""
    rule = spiff.spiff
    if rule.per_unit is not None:
        text = f"{line.quantity} x {money(rule.per_unit)} = {money(spiff.whole)}"
        if line.shares:
            text += f", share {percent(line.share)} (exact {exact(spiff.exact)}) -> {money(spiff.uncapped)}"
    else:
        text = (f"{money(line.credited)} x {percent(rule.percent)} = {exact(spiff.exact)} -> "
                f"{money(spiff.uncapped)} (half-up)")
    if spiff.cap_left is not None:
        state = " (cap reached)" if spiff.capped and spiff.reward == 0 else ""
        text += f"; cap {money(rule.cap)}, {money(spiff.cap_left)} left before this line: {money(spiff.reward)}{state}"
    return f"SPIFF {rule.name} (version {rule.version}): {text}."


def explain(result: LineResult) -> list[str]:
    """The derivation of one line's commission and SPIFF rewards, as sentences."""
    line = result.line
    if line is None:
        return [f"Commission {money(result.commission)} at {percent(result.rate)}."]
    words = [_credit(line)] if line.shares else []
    if line.plan is None:
        words.append(f"No plan in force on {line.date}: commission 0.00 (flagged); the credit still adds to volume.")
    else:
        words.append(_plan(result, line.plan))
        words += _table(result)
        words.append(_portions(result))
    words.append(f"Month's volume {money(result.volume_before)} -> {money(result.volume_after)}.")
    if line.plan is not None:
        words.append(f"Exact {exact(result.exact)}, rounded half-up once: {money(result.commission)}.")
    words += [explain_spiff(spiff, line) for spiff in result.spiffs]
    return words
