"""Split credit (COMMISSION_RULES.md section 8): a sale's money allocated among its holders.

Pure (standard library and the engine's numbers only). The same allocation splits a sale's amount
into credits and a per-unit SPIFF's whole reward into the holders' rewards (section 10).

- Shares are percents, PRIMARY FIRST: 1 to 5 of them, each 0 < share <= 100 with at most four
  decimals, summing to exactly 100.
- Each co-agent gets amount x share / 100 rounded DOWN to the cent; the primary gets the rest. So
  the credits sum to the amount exactly, a co-agent is less than one cent under its exact share,
  and the primary is never under its own (at most one cent over per co-agent).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from webapp.commissions.engine_numbers import (EXACT_CONTEXT, HUNDRED, RATE_QUANTUM, SplitError, as_decimal,
                                               decimal_places, round_down_money, to_money)

MAX_HOLDERS = 5
UNSPLIT = (HUNDRED.quantize(RATE_QUANTUM),)


def normalise_shares(shares: Iterable[Any]) -> tuple[Decimal, ...]:
    """Validate a sale's shares (primary first) and return them as four-place Decimals."""
    if isinstance(shares, (str, bytes)):
        raise TypeError(f"shares must be a list of percents, not {type(shares).__name__}")
    values = tuple(shares)
    if not 1 <= len(values) <= MAX_HOLDERS:
        raise SplitError(f"a sale has 1 to {MAX_HOLDERS} holders, got {len(values)} shares")
    out = []
    for number, value in enumerate(values, start=1):
        share = as_decimal(value, f"share {number}", SplitError)
        if not 0 < share <= 100:
            raise SplitError(f"share {number} must be above 0 and at most 100, got {value}")
        if decimal_places(share) > 4:
            raise SplitError(f"share {number} has more than four decimals: {value}")
        out.append(share.quantize(RATE_QUANTUM, context=EXACT_CONTEXT))
    total = sum(out, Decimal(0))
    if total != HUNDRED:
        raise SplitError(f"shares must sum to exactly 100, they sum to {total.normalize():f}")
    return tuple(out)


def allocate(amount: Decimal, shares: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
    """Allocate validated money over validated shares: co-agents rounded down, the primary the rest."""
    if len(shares) == 1:
        return (amount,)
    exact = EXACT_CONTEXT.multiply
    part = EXACT_CONTEXT.divide
    coagents = tuple(round_down_money(part(exact(amount, share), HUNDRED)) for share in shares[1:])
    return (amount - sum(coagents, Decimal(0)),) + coagents


def split_credit(amount: Any, shares: Iterable[Any]) -> tuple[Decimal, ...]:
    """Each holder's credit of `amount` (money, >= 0), primary first; the credits sum to the amount."""
    return allocate(to_money(amount, "amount", SplitError), normalise_shares(shares))
