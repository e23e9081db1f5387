"""How the engine reached a ledger figure, kept on the entry as JSON (issue: every figure explains
itself). Built from the engine's own result when the figure is computed, never by a second
calculation, so the words and numbers always match the amount.

Numbers are strings (exact decimals); `words` are the engine's sentences (engine_explain).
"""

from __future__ import annotations

from decimal import Decimal

from webapp.commissions import engine
from webapp.commissions.engine_explain import explain, explain_spiff


def _text(value: Decimal | None) -> str | None:
    """An exact decimal as text (None stays None)."""
    return None if value is None else f"{value:f}"


def commission_derivation(result: engine.LineResult) -> dict:
    """The derivation of a line's commission (its SPIFF rewards have their own)."""
    line, table = result.line, result.table
    return {
        "commission": _text(result.commission), "rate": _text(result.rate), "source": str(result.source),
        "amount": _text(line.amount) if line else None, "credited": _text(result.credited),
        "share": _text(line.share) if line else None, "primary": line.primary if line else True,
        "volume_before": _text(result.volume_before), "volume_after": _text(result.volume_after),
        "portions": [[_text(p.amount), _text(p.rate)] for p in result.portions],
        "exact": _text(result.exact), "no_target": result.no_target,
        "basis": str(table.basis) if table else None, "target": _text(table.target) if table else None,
        "thresholds": [_text(t) for t in table.thresholds] if table else [],
        "words": [w for w in explain(result) if not w.startswith("SPIFF ")],
    }


def spiff_derivation(reward: engine.SpiffResult, result: engine.LineResult) -> dict:
    """The derivation of one SPIFF reward on a holder's line."""
    rule = reward.spiff
    return {
        "spiff": rule.name, "version": rule.version, "reward": _text(reward.reward),
        "uncapped": _text(reward.uncapped), "exact": _text(reward.exact), "whole": _text(reward.whole),
        "per_unit": _text(rule.per_unit), "percent": _text(rule.percent), "cap": _text(rule.cap),
        "cap_left": _text(reward.cap_left), "capped": reward.capped,
        "quantity": result.line.quantity if result.line else None,
        "credited": _text(result.credited), "share": _text(result.line.share) if result.line else None,
        "words": [explain_spiff(reward, result.line)] if result.line else [],
    }
