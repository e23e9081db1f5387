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
from decimal import Decimal
from functools import lru_cache
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


def canonical_json(value) -> str:
    """The one JSON text of a value that digests are taken of: keys sorted, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _fingerprint(text: str) -> str:
    """The digest of a canonical JSON text."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def derivation_digest(derivation: dict) -> str:
    """A fingerprint of a derivation's numbers, its words left out (they follow from the numbers).

    Stored beside the derivation, so that a recompute tells an unchanged figure from a changed one
    by comparing fingerprints instead of decoding every stored derivation."""
    return _fingerprint(canonical_json({name: value for name, value in derivation.items() if name != "words"}))


def _quoted(value: Decimal | None) -> str:
    """An exact decimal as canonical JSON: its _text in quotes (digits, sign and point need no escaping)."""
    return "null" if value is None else f'"{value:f}"'


@lru_cache(maxsize=64)
def _name_json(name: str) -> str:
    """A rate source's or tier basis's name as canonical JSON (a handful of names, encoded once)."""
    return canonical_json(name)


@lru_cache(maxsize=1024)
def _table_json(table: engine.TierTable | None) -> tuple[str, str]:
    """What a line's tier table gives its derivation's canonical JSON: the target and thresholds
    members, and the basis value."""
    if table is None:
        return '"target":null,"thresholds":[]', "null"
    thresholds = ",".join(_quoted(t) for t in table.thresholds)
    return f'"target":{_quoted(table.target)},"thresholds":[{thresholds}]', _name_json(str(table.basis))


def commission_digest(result: engine.LineResult, plan_json: str) -> str:
    """derivation_digest(commission_derivation(result, plan)) without building the derivation, where
    `plan_json` is canonical_json(plan): the same canonical text, written member by member in key order.

    A recompute fingerprints every line of the month to find the few that changed; building each
    derivation and encoding it took most of an unchanged month's time (bench/recompute_month.py).
    tests/unit/test_commission_digest.py holds it to derivation_digest on random and golden months."""
    line, table = result.line, result.table
    table_members, basis = _table_json(table)
    portions = ",".join(f'["{p.amount:f}","{p.rate:f}"]' for p in result.portions)
    volume_before = result.volume_before
    credited = line.credited if line is not None else None
    volume_after = None if volume_before is None or credited is None else volume_before + credited
    text = (f'{{"amount":{_quoted(line.amount if line is not None else None)},"basis":{basis},'
            f'"commission":{_quoted(result.commission)},"credited":{_quoted(credited)},'
            f'"exact":{_quoted(result.exact)},"no_target":{"true" if result.no_target else "false"},'
            f'"plan":{plan_json},"portions":[{portions}],'
            f'"primary":{"true" if line is None or line.primary else "false"},"rate":{_quoted(result.rate)},'
            f'"share":{_quoted(line.share if line is not None else None)},'
            f'"source":{_name_json(str(result.source))},{table_members},'
            f'"volume_after":{_quoted(volume_after)},"volume_before":{_quoted(volume_before)}}}')
    return _fingerprint(text)


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


class Figure:
    """What one key (sale, SPIFF or None) of a holder must add up to now, and how it was reached.

    The derivation is built only when it is needed: its fingerprint (`digest`) when the key's
    stored line is compared, its numbers and words when an entry is written. A recompute compares
    tens of thousands of lines and writes few, and a line whose own period closed is compared by
    amount alone."""

    __slots__ = ("cents", "rate_units", "version_id", "spiff_version_id", "_fingerprint", "_numbers", "_words",
                 "_digest", "_derivation")

    def __init__(self, cents: int, rate_units: int | None, version_id: int | None, spiff_version_id: int | None,
                 fingerprint: Callable[[], str], numbers: Callable[[], dict], words: Callable[[], list[str]]):
        """The figure and three functions giving its derivation's fingerprint, numbers and words."""
        self.cents, self.rate_units, self.version_id, self.spiff_version_id = (cents, rate_units, version_id,
                                                                               spiff_version_id)
        self._fingerprint, self._numbers, self._words = fingerprint, numbers, words
        self._digest: str | None = None
        self._derivation: dict | None = None

    @property
    def digest(self) -> str:
        """derivation_digest of the derivation (computed once)."""
        if self._digest is None:
            self._digest = self._fingerprint()
        return self._digest

    @property
    def derivation(self) -> dict:
        """The whole derivation: the numbers and the engine's sentences (built once)."""
        if self._derivation is None:
            self._derivation = {**self._numbers(), "words": self._words()}
        return self._derivation
