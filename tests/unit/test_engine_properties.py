"""Properties of the engine that hold for any plan and any month, checked with hypothesis."""

from __future__ import annotations

import datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.commissions.engine import LineResult, Plan, SaleLine, compute_month, estimate_line, month_total

# Small enough for CI (each test well under 5 s), large enough to walk every bracket shape.
CI = settings(max_examples=150, deadline=None)
HALF_CENT = Fraction(1, 200)

cents = st.integers(min_value=0, max_value=2_000_000)  # up to 20,000.00 a line
rates = st.integers(min_value=0, max_value=1_000_000).map(lambda n: Decimal(n).scaleb(-4))  # 0..100.0000


def money(n: int) -> Decimal:
    """Integer cents as a two-place Decimal."""
    return Decimal(n).scaleb(-2)


@st.composite
def tier_tables(draw, max_brackets: int = 5) -> tuple[tuple[Decimal, Decimal], ...]:
    """A valid tier table: starts at 0, strictly ascending, boundaries anywhere (cents)."""
    gaps = draw(st.lists(st.integers(min_value=1, max_value=3_000_000), max_size=max_brackets - 1))
    starts = [0]
    for gap in gaps:
        starts.append(starts[-1] + gap)
    return tuple((money(start), draw(rates)) for start in starts)


def plans(mode: str):
    """Tiered plans in one mode, with no overrides (so every line follows the tier table)."""
    return tier_tables().map(lambda tiers: Plan(tiers=tiers, tier_mode=mode))


def month(amounts_in_cents: list[int], plan: Plan | None) -> list[SaleLine]:
    """One line per amount, in list order = allocation order (days then ids both ascend)."""
    return [
        SaleLine(i + 1, datetime.date(2026, 11, min(i + 1, 30)), money(c), plan=plan)
        for i, c in enumerate(amounts_in_cents)
    ]


def half_up(value: Fraction, places: int) -> Fraction:
    """Independent oracle: round a non-negative exact value half-up to `places` decimals."""
    scale = 10**places
    return Fraction(int(value * scale + Fraction(1, 2)), scale)


def marginal_integral(plan: Plan, volume: Decimal) -> Fraction:
    """Independent oracle: the exact commission of `volume` under a marginal table, unrounded."""
    total = Fraction(0)
    bounds = [Fraction(b.from_amount) for b in plan.tiers[1:]] + [None]
    for bracket, upper in zip(plan.tiers, bounds):
        lower = Fraction(bracket.from_amount)
        top = Fraction(volume) if upper is None else min(Fraction(volume), upper)
        if top > lower:
            total += (top - lower) * Fraction(bracket.rate) / 100
    return total


def reached_rate(plan: Plan, volume: Decimal) -> Decimal:
    """Independent oracle: the rate of the last bracket whose start the volume has reached."""
    return max((b for b in plan.tiers if b.from_amount <= volume), key=lambda b: b.from_amount).rate


@pytest.fixture(autouse=True)
def _rollback():
    """The engine needs no app and no database: stand in for the suite's per-test transaction."""
    yield


@CI
@given(plan=plans("marginal"), a=cents, b=cents)
def test_marginal_commission_of_a_sale_is_monotone_in_its_amount(plan, a, b):
    """More volume never earns less: for one sale, commission is non-decreasing in the amount."""
    low, high = sorted((a, b))
    earned = [compute_month(month([c], plan))[1].commission for c in (low, high)]
    assert earned[0] <= earned[1]


@CI
@given(plan=plans("marginal"), amounts=st.lists(cents, min_size=1, max_size=30), extra=cents)
def test_marginal_month_total_never_falls_when_volume_is_added(plan, amounts, extra):
    """Adding a later sale or raising the last sale never lowers the month's total."""
    base = month_total(compute_month(month(amounts, plan)))
    assert month_total(compute_month(month(amounts + [extra], plan))) >= base
    raised = amounts[:-1] + [amounts[-1] + extra]
    assert month_total(compute_month(month(raised, plan))) >= base


@CI
@given(plan=plans("marginal"), amounts=st.lists(cents, min_size=1, max_size=30), data=st.data())
def test_marginal_total_does_not_depend_on_how_volume_is_split(plan, amounts, data):
    """Any split of the same volume earns the exact integral, within half a cent per line."""
    volume = sum(amounts)
    cuts = sorted(data.draw(st.lists(st.integers(min_value=0, max_value=volume), max_size=30)))
    resplit = [b - a for a, b in zip([0] + cuts, cuts + [volume])]
    exact = marginal_integral(plan, money(volume))
    totals = []
    for split in (amounts, resplit, [volume]):
        totals.append(month_total(compute_month(month(split, plan))))
        assert abs(Fraction(totals[-1]) - exact) <= HALF_CENT * len(split)
    # Hence two splits differ by at most one cent per line of the longer one.
    assert abs(totals[0] - totals[1]) <= Decimal("0.01") * max(len(amounts), len(resplit))


@CI
@given(plan=plans("retroactive"), amounts=st.lists(cents, min_size=1, max_size=40))
def test_retroactive_total_is_volume_times_reached_rate(plan, amounts):
    """Every line earns the reached rate, so the total is volume x rate within per-line rounding."""
    lines = month(amounts, plan)
    results = compute_month(lines)
    volume = sum(line.amount for line in lines)
    rate = reached_rate(plan, volume)
    assert {r.rate for r in results.values()} == {rate}
    exact = Fraction(volume) * Fraction(rate) / 100
    assert abs(Fraction(month_total(results)) - exact) <= HALF_CENT * len(lines)


@st.composite
def any_plans(draw) -> Plan | None:
    """Any valid plan (flat or tiered, either mode, with overrides), or no plan at all."""
    kind = draw(st.sampled_from(["none", "flat", "marginal", "retroactive"]))
    if kind == "none":
        return None
    overrides = {
        "category_rates": draw(st.dictionaries(st.sampled_from(["tech", "med"]), rates, max_size=2)),
        "product_rates": draw(st.dictionaries(st.sampled_from(["SKU-1", "SKU-2"]), rates, max_size=2)),
    }
    if kind == "flat":
        return Plan(base_rate=draw(rates), **overrides)
    return Plan(tiers=draw(tier_tables()), tier_mode=kind, **overrides)


@st.composite
def mixed_months(draw) -> list[SaleLine]:
    """A month of lines under several plans (a mid-month change), in shuffled input order."""
    size = draw(st.integers(min_value=0, max_value=25))
    plan_pool = draw(st.lists(any_plans(), min_size=1, max_size=3))
    ids = draw(st.permutations(range(1, size + 1)))
    lines = [
        SaleLine(
            sale_id,
            datetime.date(2026, 11, draw(st.integers(min_value=1, max_value=30))),
            money(draw(cents)),
            draw(st.sampled_from(["SKU-1", "SKU-2", "SKU-3"])),
            draw(st.sampled_from(["tech", "med", "office"])),
            draw(st.sampled_from(plan_pool)),
        )
        for sale_id in ids
    ]
    return lines


def _is_exact(result: LineResult) -> bool:
    """Commission is a two-place Decimal, rate a four-place Decimal, portions Decimals."""
    return (
        type(result.commission) is Decimal
        and result.commission.as_tuple().exponent == -2
        and type(result.rate) is Decimal
        and result.rate.as_tuple().exponent == -4
        and all(type(p.amount) is Decimal and type(p.rate) is Decimal for p in result.portions)
    )


@CI
@given(lines=mixed_months())
def test_results_are_always_exact_decimals(lines):
    """Whatever the plans, every figure is a Decimal with fixed places; no float anywhere."""
    results = compute_month(lines)
    assert set(results) == {line.id for line in lines}
    assert all(_is_exact(r) for r in results.values())
    assert type(month_total(results)) is Decimal and month_total(results).as_tuple().exponent == -2


@CI
@given(lines=mixed_months())
def test_portions_cover_the_line_and_input_order_does_not_matter(lines):
    """Portions add up to the amount, figures follow from portions; input order changes nothing."""
    results = compute_month(lines)
    for line in lines:
        result = results[line.id]
        if result.no_plan:
            assert result.commission == 0 and result.portions == ()
        else:
            assert sum(p.amount for p in result.portions) == line.amount
            # Only a zero-amount line has an empty portion (the one that carries its rate).
            assert all(p.amount > 0 for p in result.portions) or result.portions[0].amount == 0 == line.amount
            exact = sum(Fraction(p.amount) * Fraction(p.rate) for p in result.portions)
            assert Fraction(result.commission) == half_up(exact / 100, 2)
            if line.amount:
                assert Fraction(result.rate) == half_up(exact / Fraction(line.amount), 4)
    assert compute_month(list(reversed(lines))) == results


@CI
@given(lines=mixed_months().filter(bool), data=st.data())
def test_estimate_equals_the_line_once_approved(lines, data):
    """A pending line's estimate is exactly what it earns when the month is recomputed with it."""
    candidate = data.draw(st.sampled_from(lines))
    approved = [line for line in lines if line is not candidate]
    assert estimate_line(approved, candidate) == compute_month(lines)[candidate.id]
