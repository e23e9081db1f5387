"""What the commission engine returns: each line's figure and the derivation it used.

Pure, like every engine module. A LineResult carries everything the engine worked with for that
line (the plan, the month's volume before the line, the bracket portions and their rates, the
override, the holder's share and credit, the target and threshold amounts, the SPIFF rewards and
their caps, the exact figure before rounding), so a page, a statement or the API can show how a
figure was reached without computing it a second time (engine_explain.py puts it in words).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from webapp.commissions.engine_numbers import EXACT_CONTEXT, HUNDRED
from webapp.commissions.engine_spiffs import SpiffResult
from webapp.commissions.engine_types import Edges, Plan, RateSource, SaleLine, TierBasis


@dataclasses.dataclass(frozen=True, slots=True)
class Portion:
    """A part of a line's amount and the rate (percent) it earned."""

    amount: Decimal
    rate: Decimal


@dataclasses.dataclass(frozen=True, slots=True)
class TierTable:
    """A plan's tier table as the month used it: its amount edges, and the target it was resolved with.

    For an `amount` table `target` is None and the edges are the plan's own. For a
    `target_percent` table the edges are the threshold amounts (target x from% / 100, half-up);
    with no target for the month `edges` is None and every non-override line earns the first
    bracket's rate, flagged "no target".
    """

    basis: TierBasis
    target: Decimal | None
    edges: Edges | None

    @property
    def thresholds(self) -> tuple[Decimal, ...]:
        """The brackets' starting amounts (empty with no target)."""
        return tuple(edge[0] for edge in self.edges or ())


@dataclasses.dataclass(frozen=True, slots=True)
class LineResult:
    """What one line earns: commission (2 places), effective rate (4 places), the portions used.

    The fields after `source` are the derivation (all optional, so results built by hand with the
    first five still work): the line itself (plan, shares, quantity, credited amount), the month's
    volume before the line, the tier table as resolved for the month and the SPIFF rewards of the
    line. The exact figure and the "no target" flag are read from those, not stored: the engine
    builds 10,000 of these per agent-month, and every field costs time in the frozen __init__.
    """

    sale_id: int | None
    commission: Decimal
    rate: Decimal
    portions: tuple[Portion, ...]
    source: RateSource
    line: SaleLine | None = None
    volume_before: Decimal | None = None
    table: TierTable | None = None
    spiffs: tuple[SpiffResult, ...] = ()

    @property
    def no_plan(self) -> bool:
        """True when no plan was in force on the sale's date (it earns 0 and must be flagged)."""
        return self.source is RateSource.NO_PLAN

    @property
    def override(self) -> bool:
        """True when a product or category rate replaced the plan's rate."""
        return self.source in (RateSource.PRODUCT, RateSource.CATEGORY)

    @property
    def credited(self) -> Decimal | None:
        """The holder's credited amount the line earned on (the whole amount for an unsplit sale)."""
        return self.line.credited if self.line is not None else None

    @property
    def exact(self) -> Decimal:
        """The commission before its one rounding: sum of portion x rate / 100, exactly."""
        multiply, divide = EXACT_CONTEXT.multiply, EXACT_CONTEXT.divide
        return divide(sum((multiply(p.amount, p.rate) for p in self.portions), Decimal(0)), HUNDRED)

    @property
    def no_target(self) -> bool:
        """True for a plan-rate line of a target_percent table in a month without a target (flagged)."""
        return self.source is RateSource.PLAN and self.table is not None and self.table.edges is None

    @property
    def plan(self) -> Plan | None:
        """The plan the line earned under (None: no plan)."""
        return self.line.plan if self.line is not None else None

    @property
    def volume_after(self) -> Decimal | None:
        """The month's tier volume after this line (volume before + credited amount)."""
        if self.volume_before is None or self.credited is None:
            return None
        return self.volume_before + self.credited

    @property
    def spiff_total(self) -> Decimal:
        """The line's SPIFF rewards added up (each already rounded), apart from commission."""
        return sum((spiff.reward for spiff in self.spiffs), Decimal("0.00"))
