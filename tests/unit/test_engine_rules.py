"""COMMISSION_RULES.md at engine level: worked examples B-E, validation, floats, overrides, no plan."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from webapp.commissions.engine import (
    Bracket,
    MonthError,
    Plan,
    PlanError,
    Portion,
    RateSource,
    SaleLine,
    SaleLineError,
    TierMode,
    as_decimal,
    compute_month,
    estimate_line,
    month_total,
    pending_total,
    round_money,
)

TIERS = (("0", "3"), ("10000", "5"))
MARGINAL = Plan(tiers=TIERS, tier_mode="marginal")
RETROACTIVE = Plan(tiers=TIERS, tier_mode="retroactive")
FLAT_3 = Plan(base_rate="3")


@pytest.fixture(autouse=True)
def _rollback():
    """The engine needs no app and no database: stand in for the suite's per-test transaction."""
    yield


def nov(day: int) -> datetime.date:
    """A date in November 2026, the month of the worked examples."""
    return datetime.date(2026, 11, day)


def line(sale_id, day, amount, plan=FLAT_3, sku="GEN-1", category="office_supplies") -> SaleLine:
    """A sale line in November 2026."""
    return SaleLine(sale_id, nov(day), Decimal(amount), sku, category, plan)


def commissions(lines) -> dict[int, str]:
    """The month's commissions as strings, by sale id."""
    return {sale_id: str(result.commission) for sale_id, result in compute_month(lines).items()}


# --- Section 7, worked examples -------------------------------------------------------------


def test_example_b_retroactive_true_up():
    """B: 6,000 alone earns 3%; a second 6,000 lifts November to 5% for both (600.00 = 12,000 x 5%)."""
    first = line(1, 3, "6000.00", RETROACTIVE)
    second = line(2, 20, "6000.00", RETROACTIVE)
    assert commissions([first]) == {1: "180.00"}
    both = compute_month([first, second])
    assert {k: str(v.commission) for k, v in both.items()} == {1: "300.00", 2: "300.00"}
    assert month_total(both) == Decimal("600.00") == Decimal("12000.00") * 5 / 100
    # The ledger's +120.00 true-up for the stated first sale is this difference.
    assert both[1].commission - Decimal("180.00") == Decimal("120.00")
    # Voiding the Nov 20 sale: the month is the first sale alone again.
    assert commissions([first]) == {1: "180.00"}


def test_example_c_plan_change_mid_month():
    """C: plan A (3%) to Nov 15, plan B (4%) from Nov 16; each line uses its own plan's rate."""
    plan_a, plan_b = Plan(base_rate="3"), Plan(base_rate="4")
    assert commissions([line(1, 15, "1000.00", plan_a), line(2, 16, "1000.00", plan_b)]) == {
        1: "30.00",
        2: "40.00",
    }


def test_example_d_pending_estimate_and_total():
    """D: approved 9,000 earns 270.00; pending 5,000 on Nov 12 is estimated at 230.00."""
    approved = [line(1, 10, "9000.00", MARGINAL)]
    pending = line(2, 12, "5000.00", MARGINAL)
    assert commissions(approved) == {1: "270.00"}
    estimate = estimate_line(approved, pending)
    assert estimate.commission == Decimal("230.00")
    assert estimate.portions == (
        Portion(Decimal("1000.00"), Decimal("3")),
        Portion(Decimal("4000.00"), Decimal("5")),
    )
    assert pending_total(approved, [pending]) == Decimal("230.00")
    # Pending does not count: the approved month is unchanged by the estimate.
    assert commissions(approved) == {1: "270.00"}


def test_example_d_pending_dated_earlier_moves_the_approved_sale():
    """D variant: dated Nov 5 its own estimate is 150.00, but the pending total stays 230.00."""
    approved = [line(1, 10, "9000.00", MARGINAL)]
    pending = line(2, 5, "5000.00", MARGINAL)
    assert estimate_line(approved, pending).commission == Decimal("150.00")
    assert pending_total(approved, [pending]) == Decimal("230.00")
    # Because approving it pushes the Nov 10 sale up a bracket: 5,000 x 3% + 4,000 x 5%.
    assert commissions(approved + [pending]) == {2: "150.00", 1: "350.00"}


def test_example_e_marginal_void_moves_brackets():
    """E: the Nov 20 sale earns 160.00 after 8,000 on Nov 3, and 120.00 once that sale is voided."""
    nov_3 = line(1, 3, "8000.00", MARGINAL)
    nov_20 = line(2, 20, "4000.00", MARGINAL)
    assert commissions([nov_3, nov_20]) == {1: "240.00", 2: "160.00"}
    assert commissions([nov_20]) == {2: "120.00"}


# --- Sections 2-4, engine rules --------------------------------------------------------------


def test_overrides_product_beats_category_beats_plan():
    """A product rate wins over a category rate, which wins over the plan's rate."""
    plan = Plan(base_rate="3", category_rates={"medical": "2"}, product_rates={"MED-7": "1"})
    results = compute_month([
        line(1, 2, "1000.00", plan, sku="MED-7", category="medical"),
        line(2, 2, "1000.00", plan, sku="MED-1", category="medical"),
        line(3, 2, "1000.00", plan, sku="MED-7", category="office_supplies"),
        line(4, 2, "1000.00", plan, sku="GEN-1", category="office_supplies"),
    ])
    assert [str(r.commission) for r in results.values()] == ["10.00", "20.00", "10.00", "30.00"]
    assert [r.source for r in results.values()] == [
        RateSource.PRODUCT, RateSource.CATEGORY, RateSource.PRODUCT, RateSource.PLAN,
    ]
    assert [r.override for r in results.values()] == [True, True, True, False]


def test_override_line_adds_volume_but_keeps_its_rate_under_retroactive_tiers():
    """A retroactive bracket reached partly by an override line lifts the other lines, not it."""
    plan = Plan(tiers=TIERS, tier_mode="retroactive", category_rates={"technology": "8"})
    results = compute_month([
        line(1, 2, "9000.00", plan, category="technology"),
        line(2, 3, "2000.00", plan),
    ])
    assert {k: str(v.commission) for k, v in results.items()} == {1: "720.00", 2: "100.00"}


def test_line_without_a_plan_earns_zero_is_flagged_and_still_adds_volume():
    """No plan on the sale's date: 0.00, flagged, and its amount still counts toward the tiers."""
    results = compute_month([line(1, 2, "10000.00", plan=None), line(2, 3, "1000.00", MARGINAL)])
    assert results[1].commission == Decimal("0.00")
    assert results[1].no_plan and not results[1].override
    assert results[1].rate == Decimal("0") and results[1].portions == ()
    assert results[2].commission == Decimal("50.00")
    assert not results[2].no_plan


def test_bracket_applies_from_its_from_amount():
    """Brackets are half-open: volume exactly at 10,000 is in the 5% bracket."""
    assert commissions([line(1, 2, "10000.00", RETROACTIVE)]) == {1: "500.00"}
    assert commissions([line(1, 2, "9999.99", RETROACTIVE)]) == {1: "300.00"}
    results = compute_month([line(1, 2, "10000.00", MARGINAL), line(2, 3, "100.00", MARGINAL)])
    assert results[1].portions == (Portion(Decimal("10000.00"), Decimal("3")),)
    assert results[2].portions == (Portion(Decimal("100.00"), Decimal("5")),)


def test_a_line_crossing_several_brackets_is_split_into_one_portion_per_bracket():
    """A line that crosses two boundaries and ends exactly on a third gets no empty portion."""
    plan = Plan(tiers=(("0", "1"), ("100", "2"), ("200", "3"), ("300", "4")), tier_mode="marginal")
    results = compute_month([
        line(1, 2, "50.00", plan), line(2, 3, "250.00", plan), line(3, 4, "10.00", plan),
    ])
    assert results[2].portions == (
        Portion(Decimal("50.00"), Decimal("1")),
        Portion(Decimal("100.00"), Decimal("2")),
        Portion(Decimal("100.00"), Decimal("3")),
    )
    # 0.50 + 2.00 + 3.00 = 5.50 on 250.00: 2.2% effective.
    assert str(results[2].commission) == "5.50" and str(results[2].rate) == "2.2000"
    assert results[3].portions == (Portion(Decimal("10.00"), Decimal("4")),)


def test_allocation_order_is_date_then_id_whatever_the_input_order():
    """Lines are allocated by (date, id), so the input order never changes a figure."""
    lines = [
        line(9, 20, "8000.00", MARGINAL), line(3, 2, "5000.00", MARGINAL), line(4, 20, "100.00", MARGINAL),
    ]
    assert list(compute_month(lines)) == [3, 4, 9]
    assert commissions(lines) == commissions(list(reversed(lines))) == {3: "150.00", 4: "3.00", 9: "302.00"}


def test_effective_rate_is_the_weighted_rate_of_the_portions():
    """One rate when unsplit; amount-weighted across brackets, half-up to four decimals."""
    results = compute_month([line(1, 2, "6000.00", MARGINAL), line(2, 3, "6000.00", MARGINAL)])
    assert results[1].rate == Decimal("3.0000") and str(results[1].rate) == "3.0000"
    # 4,000 at 3% and 2,000 at 5%: 22,000 / 6,000 = 3.66666... -> 3.6667.
    assert str(results[2].rate) == "3.6667"
    assert results[2].commission == Decimal("220.00")


def test_zero_amount_line_earns_nothing_at_the_rate_it_stands_at():
    """A 0.00 line has one empty portion at the rate of the bracket its volume has reached."""
    results = compute_month([line(1, 2, "12000.00", MARGINAL), line(2, 3, "0", MARGINAL)])
    assert str(results[2].commission) == "0.00"
    assert results[2].portions == (Portion(Decimal("0.00"), Decimal("5")),)
    assert results[2].rate == Decimal("5")


def test_rounding_is_half_up_once_per_line():
    """0.045 rounds to 0.05 (banker's rounding gives 0.04); split portions are never rounded."""
    assert round_money(Decimal("0.045")) == Decimal("0.05")
    assert round_money(Decimal("0.015")) == Decimal("0.02")
    plan = Plan(tiers=(("0", "1"), ("100.50", "3")), tier_mode="marginal")
    assert commissions([line(1, 2, "100.00", plan), line(2, 3, "1.00", plan)]) == {1: "1.00", 2: "0.02"}


def test_results_are_decimals_with_fixed_places():
    """Commission has exactly two places, rate exactly four, whatever the inputs looked like."""
    result = compute_month([line(1, 2, "5000", Plan(base_rate="2.5"))])[1]
    assert isinstance(result.commission, Decimal) and result.commission.as_tuple().exponent == -2
    assert isinstance(result.rate, Decimal) and result.rate.as_tuple().exponent == -4
    assert str(result.commission) == "125.00"


# --- Estimates: placement of a sale being typed ---------------------------------------------


def test_unsaved_candidate_goes_after_every_approved_line_of_its_date():
    """A sale being typed (id None) is placed as if entered now: last among its date's lines."""
    approved = [line(5, 10, "9000.00", MARGINAL), line(7, 10, "500.00", MARGINAL)]
    typed = SaleLine(None, nov(10), Decimal("1000.00"), plan=MARGINAL)
    estimate = estimate_line(approved, typed)
    assert estimate.sale_id is None
    # Volume before it is 9,500: 500 at 3% + 500 at 5%.
    assert estimate.commission == Decimal("40.00")
    # An earlier date puts it first, whatever the ids.
    earlier = SaleLine(None, nov(9), Decimal("1000.00"), plan=MARGINAL)
    assert estimate_line(approved, earlier).commission == Decimal("30.00")


def test_estimate_of_a_saved_sale_uses_its_id_and_replaces_an_older_version_of_it():
    """A pending sale is placed by (date, id); an edited approved sale replaces its old line."""
    approved = [line(5, 10, "9000.00", MARGINAL), line(7, 10, "500.00", MARGINAL)]
    # Id 6 sits between 5 and 7: volume before it is 9,000, so all of it is in the 3% bracket.
    assert estimate_line(approved, line(6, 10, "1000.00", MARGINAL)).commission == Decimal("30.00")
    assert estimate_line(approved, line(8, 10, "1000.00", MARGINAL)).commission == Decimal("40.00")
    assert estimate_line(approved, line(7, 10, "2000.00", MARGINAL)).commission == Decimal("80.00")


def test_pending_total_is_what_approving_all_of_them_would_add():
    """engine(approved + pending) - engine(approved), for several pending lines at once."""
    approved = [line(1, 10, "9000.00", MARGINAL)]
    pending = [line(2, 5, "5000.00", MARGINAL), line(3, 20, "1000.00", MARGINAL)]
    assert pending_total(approved, pending) == Decimal("280.00")
    assert pending_total(approved, []) == Decimal("0.00")
    assert pending_total([], []) == Decimal("0.00")


# --- Plan validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_rate": "-1"}, "between 0 and 100"),
        ({"base_rate": "101"}, "between 0 and 100"),
        ({"base_rate": "3.12345"}, "more than four decimals"),
        ({"base_rate": "abc"}, "not a number"),
        ({"base_rate": "NaN"}, "finite"),
        ({"base_rate": "Infinity"}, "finite"),
        ({"base_rate": Decimal("sNaN")}, "finite"),
        ({"base_rate": "3", "tiers": TIERS, "tier_mode": "marginal"}, "not both"),
        ({}, "needs a base rate or a tier table"),
        ({"tiers": TIERS}, "needs a tier mode"),
        ({"tiers": TIERS, "tier_mode": "progressive"}, "'marginal' or 'retroactive'"),
        ({"base_rate": "3", "tier_mode": "marginal"}, "only to a tier table"),
        ({"tiers": (("100", "3"), ("10000", "5")), "tier_mode": "marginal"}, "first bracket must start at 0"),
        ({"tiers": (("0", "3"), ("10000", "5"), ("5000", "7")), "tier_mode": "marginal"}, "ascending order"),
        ({"tiers": (("0", "3"), ("10000", "5"), ("10000", "7")), "tier_mode": "marginal"}, "both start at"),
        ({"tiers": (("0", "3"), ("10000", "101")), "tier_mode": "marginal"}, "bracket 2: bracket rate"),
        ({"tiers": (("0", "3"), ("-5", "4")), "tier_mode": "marginal"}, "must not be negative"),
        ({"tiers": (("0", "3"), ("10.005", "4")), "tier_mode": "marginal"}, "more than two decimals"),
        ({"tiers": (("0", "3", "x"),), "tier_mode": "marginal"}, r"\(from_amount, rate\) pair"),
        ({"base_rate": "3", "category_rates": {"medical": "-1"}}, r"category rates\['medical'\]"),
        ({"base_rate": "3", "product_rates": {"MED-7": "100.00001"}}, r"product rates\['MED-7'\]"),
    ],
)
def test_invalid_plans_raise_plan_error_with_a_clear_message(kwargs, message):
    """Each rule of section 2 that a plan can break has its own error message."""
    with pytest.raises(PlanError, match=message):
        Plan(**kwargs)


def test_plan_error_is_a_value_error():
    """Callers that only know ValueError still catch a bad plan."""
    assert issubclass(PlanError, ValueError)


@pytest.mark.parametrize("rate", ["0", "100", "3.1234", "3.12340", Decimal("0.0001"), 5])
def test_boundary_rates_are_accepted(rate):
    """0 and 100 are valid; four decimals are fine, trailing zeros do not count as decimals."""
    assert Plan(base_rate=rate).base_rate == Decimal(str(rate))


def test_plans_normalise_and_compare_by_value():
    """Equal plans are equal and hashable, however their numbers were written."""
    assert Plan(tiers=[["0", "3"], ["10000", "5"]], tier_mode=TierMode.MARGINAL) == MARGINAL
    assert hash(Plan(base_rate=Decimal("3.00"), category_rates={"a": "1"})) == hash(
        Plan(base_rate="3", category_rates=[("a", "1.0")])
    )
    assert Plan(tiers=(Bracket("0", "3"), Bracket("10000", "5")), tier_mode="marginal") == MARGINAL


# --- Input types and sale lines -------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: Plan(base_rate=3.0),
        lambda: Plan(tiers=((0.0, "3"),), tier_mode="marginal"),
        lambda: Plan(tiers=(("0", 3.5),), tier_mode="marginal"),
        lambda: Plan(base_rate="3", category_rates={"medical": 2.0}),
        lambda: Plan(base_rate="3", product_rates={"MED-7": 1.0}),
        lambda: SaleLine(1, nov(2), 1000.0),
        lambda: as_decimal(0.1, "x"),
    ],
)
def test_floats_are_rejected_with_type_error(build):
    """Floats are inexact; the engine never converts one, anywhere."""
    with pytest.raises(TypeError, match="float"):
        build()


@pytest.mark.parametrize(
    ("amount", "error", "message"),
    [
        ("-1.00", SaleLineError, "negative"),
        ("1.005", SaleLineError, "more than two decimals"),
        ("NaN", SaleLineError, "finite"),
        ("-Infinity", SaleLineError, "finite"),
        (Decimal("Infinity"), SaleLineError, "finite"),
        ("12,50", SaleLineError, "not a number"),
        (None, TypeError, "Decimal or a str"),
        (True, TypeError, "Decimal or a str"),
    ],
)
def test_bad_amounts_are_rejected(amount, error, message):
    """Amounts are non-negative money with at most two decimals."""
    with pytest.raises(error, match=message):
        SaleLine(1, nov(2), amount, plan=FLAT_3)


def test_amounts_are_normalised_to_cents():
    """A str or int amount becomes a two-place Decimal; -0 becomes 0.00."""
    assert str(SaleLine(1, nov(2), "12.5").amount) == "12.50"
    assert str(SaleLine(1, nov(2), 7).amount) == "7.00"
    assert str(SaleLine(1, nov(2), "-0").amount) == "0.00"
    assert str(SaleLine(1, nov(2), "1.2300").amount) == "1.23"


def test_sale_line_types_are_checked():
    """Dates are plain dates (not datetimes), ids ints, plans Plans."""
    with pytest.raises(TypeError, match="datetime.date"):
        SaleLine(1, datetime.datetime(2026, 11, 2, 10, 0), Decimal("1.00"))
    with pytest.raises(TypeError, match="datetime.date"):
        SaleLine(1, "2026-11-02", Decimal("1.00"))
    with pytest.raises(TypeError, match="sale id"):
        SaleLine("1", nov(2), Decimal("1.00"))
    with pytest.raises(TypeError, match="plan"):
        SaleLine(1, nov(2), Decimal("1.00"), plan={"base_rate": "3"})
    with pytest.raises(TypeError, match="SaleLine"):
        compute_month([{"id": 1}])


def test_a_month_is_one_calendar_month_with_unique_saved_ids():
    """Mixed months, duplicate ids and unsaved lines are refused by compute_month."""
    with pytest.raises(MonthError, match="more than one calendar month"):
        compute_month([line(1, 30, "1.00"), SaleLine(2, datetime.date(2026, 12, 1), Decimal("1.00"))])
    with pytest.raises(MonthError, match="twice"):
        compute_month([line(1, 2, "1.00"), line(1, 3, "1.00")])
    with pytest.raises(MonthError, match="sale id"):
        compute_month([SaleLine(None, nov(2), Decimal("1.00"))])
    with pytest.raises(MonthError, match="more than one calendar month"):
        estimate_line([line(1, 2, "1.00")], SaleLine(None, datetime.date(2026, 10, 31), Decimal("1.00")))
    assert compute_month([]) == {}


def test_the_callers_decimal_context_does_not_change_results():
    """A low-precision or trap-free context in the caller cannot round an intermediate."""
    import decimal

    big = line(1, 2, "123456789012345.67", Plan(base_rate="2.1234"))
    expected = compute_month([big])[1].commission
    with decimal.localcontext(decimal.Context(prec=5, rounding=decimal.ROUND_FLOOR)):
        assert compute_month([big])[1].commission == expected
    assert str(expected) == "2621481457888.15"
