"""How the engine reached a ledger figure, kept on the entry as JSON (issue: every figure explains
itself). Built from the engine's own result when the figure is computed, never by a second
calculation, so the words and numbers always match the amount.

Numbers are strings (exact decimals); `words` are the engine's sentences (engine_explain), kept
beside them. The ledger formats the words only for entries it writes: they follow from the numbers
and the plan version, so an entry whose numbers are unchanged keeps its stored words.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Callable

from webapp.commissions import engine
from webapp.commissions.engine_explain import explain, explain_spiff


def _text(value: Decimal | None) -> str | None:
    """An exact decimal as text (None stays None)."""
    return None if value is None else f"{value:f}"


def commission_derivation(result: engine.LineResult, plan: dict | None = None) -> dict:
    """The derivation of a line's commission without its words (its SPIFF rewards have their own);
    `plan` names the plan version the engine was given (name, version, effective_from)."""
    line, table = result.line, result.table
    return {
        "plan": plan,
        "commission": _text(result.commission), "rate": _text(result.rate), "source": str(result.source),
        "amount": _text(line.amount) if line else None, "credited": _text(result.credited),
        "share": _text(line.share) if line else None, "primary": line.primary if line else True,
        "volume_before": _text(result.volume_before), "volume_after": _text(result.volume_after),
        "portions": [[_text(p.amount), _text(p.rate)] for p in result.portions],
        "exact": _text(result.exact), "no_target": result.no_target,
        "basis": str(table.basis) if table else None, "target": _text(table.target) if table else None,
        "thresholds": [_text(t) for t in table.thresholds] if table else [],
    }


def derivation_digest(derivation: dict) -> str:
    """A fingerprint of a derivation's numbers, its words left out (they follow from the numbers).

    Stored beside the derivation, so that a recompute tells an unchanged figure from a changed one
    by comparing fingerprints instead of decoding every stored derivation."""
    numbers = {name: value for name, value in derivation.items() if name != "words"}
    text = json.dumps(numbers, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def commission_words(result: engine.LineResult) -> list[str]:
    """The engine's sentences for a line's commission (the SPIFF sentences go with each reward)."""
    return [w for w in explain(result) if not w.startswith("SPIFF ")]


def spiff_derivation(reward: engine.SpiffResult, result: engine.LineResult) -> dict:
    """The derivation of one SPIFF reward on a holder's line, without its words."""
    rule = reward.spiff
    return {
        "spiff": rule.name, "version": rule.version, "reward": _text(reward.reward),
        "uncapped": _text(reward.uncapped), "exact": _text(reward.exact), "whole": _text(reward.whole),
        "per_unit": _text(rule.per_unit), "percent": _text(rule.percent), "cap": _text(rule.cap),
        "cap_left": _text(reward.cap_left), "capped": reward.capped,
        "quantity": result.line.quantity if result.line else None,
        "credited": _text(result.credited), "share": _text(result.line.share) if result.line else None,
    }


def spiff_words(reward: engine.SpiffResult, result: engine.LineResult) -> list[str]:
    """The engine's sentence for one SPIFF reward."""
    return [explain_spiff(reward, result.line)] if result.line else []


def _cents_text(cents: int) -> str:
    """Whole cents as an exact decimal string (-1234 -> "-12.34")."""
    sign, cents = ("-" if cents < 0 else ""), abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def adjustment_derivation(figure: dict | None, *, stated: int, now: int, reason: str) -> dict:
    """An adjustment's derivation: what closed periods already stated, the figure now (with the
    engine's derivation of it, when the sale still earns), the difference and why."""
    derivation = dict(figure or {"words": []})
    change = {"stated": _cents_text(stated), "now": _cents_text(now), "difference": _cents_text(now - stated),
              "reason": reason}
    derivation["adjustment"] = change
    derivation["words"] = [*derivation.get("words", []),
                           f"Adjustment: closed periods stated {change['stated']}; the figure is now {change['now']}; "
                           f"difference {change['now']} - {change['stated']} = {change['difference']} ({reason})."]
    return derivation


@dataclass(frozen=True)
class Figure:
    """What one key (sale, SPIFF or None) of a holder must add up to now, and how it was reached:
    the derivation's numbers (`core`) and, formatted only when needed, its words."""

    cents: int
    rate_units: int | None
    version_id: int | None
    spiff_version_id: int | None
    core: dict
    words: Callable[[], list[str]]

    @cached_property
    def derivation(self) -> dict:
        """The whole derivation: the numbers and the engine's sentences."""
        return {**self.core, "words": self.words()}

    @cached_property
    def digest(self) -> str:
        """derivation_digest of the derivation, from its numbers alone (no words formatted)."""
        return derivation_digest(self.core)
