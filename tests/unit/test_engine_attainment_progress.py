"""Attainment progress (COMMISSION_RULES.md section 9): percent of target, and "sell X more to reach Y%"."""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.commissions.engine import (EngineError, Plan, PlanError, SaleLine, attainment_percent, compute_month,
                                       month_attainment, next_bracket)

CI = settings(max_examples=200, deadline=None)
H_TIERS = (("0", "2"), ("50", "4"), ("100", "6"))


@pytest.fixture(autouse=True)
def _rollback():
    """The engine needs no app and no database: stand in for the suite's per-test transaction."""
    yield


def attainment(tiers=H_TIERS, mode="marginal") -> Plan:
    """A target_percent plan."""
    return Plan(tiers=tiers, tier_mode=mode, basis="target_percent")


def step(volume: str, target: str | None, plan: Plan | None = None):
    """(Y, threshold, X, rate) of the next bracket as strings, or None."""
    found = next_bracket(plan or attainment(), volume, target)
    return None if found is None else (str(found.percent), str(found.threshold), str(found.more), str(found.rate))


# Example H's target: the 50% threshold is 6,172.835, half-up 6,172.84.
@pytest.mark.parametrize("volume, percent, expected", [
    ("0.00", "0.00", ("50.0000", "6172.84", "6172.84", "4.0000")),
    ("5000.00", "40.50", ("50.0000", "6172.84", "1172.84", "4.0000")),
    ("6172.83", "49.99", ("50.0000", "6172.84", "0.01", "4.0000")),
    ("6172.84", "50.00", ("100.0000", "12345.67", "6172.83", "6.0000")),   # at the threshold: in the bracket
    ("12345.66", "99.99", ("100.0000", "12345.67", "0.01", "6.0000")),
    ("12345.67", "100.00", None),                                          # the last bracket reached
    ("20000.00", "162.00", None),
])
def test_example_h_target_progress(volume, percent, expected):
    assert attainment_percent(volume, "12345.67") == Decimal(percent)
    assert step(volume, "12345.67") == expected


def test_percent_is_rounded_down_never_up():
    """2/3 is 66.666...%: shown 66.66, so 100.00% never appears before the target is met."""
    assert attainment_percent("2.00", "3.00") == Decimal("66.66")
    assert attainment_percent("99999.99", "100000.00") == Decimal("99.99")
    assert attainment_percent("100000.00", "100000.00") == Decimal("100.00")
    assert str(attainment_percent("0.00", "0.01")) == "0.00"


def test_accelerator_above_quota():
    """The docs' example: target 2,000.00, brackets from 0%, 100%, 150%."""
    plan = attainment((("0", "2"), ("100", "5"), ("150", "8")))
    assert attainment_percent("2500.00", "2000.00") == Decimal("125.00")
    assert step("2500.00", "2000.00", plan) == ("150.0000", "3000.00", "500.00", "8.0000")
    assert step("1999.99", "2000.00", plan) == ("100.0000", "2000.00", "0.01", "5.0000")


def test_threshold_rounds_half_up_like_the_allocation():
    """13,000.01 x 50% = 6,500.005 -> 6,500.01: 6,500.00 still needs one cent."""
    assert step("6500.00", "13000.01") == ("50.0000", "6500.01", "0.01", "4.0000")
    assert attainment_percent("6500.00", "13000.01") == Decimal("49.99")


def test_two_percents_one_amount_name_the_bracket_paid_from_there():
    """Target 100.00: 50% and 50.004% both start at 50.00; the 3% bracket is the one reached."""
    plan = attainment((("0", "1"), ("50", "2"), ("50.004", "3")))
    assert step("40.00", "100.00", plan) == ("50.0040", "50.00", "10.00", "3.0000")
    assert step("50.00", "100.00", plan) is None


def test_no_target_means_no_percent_and_no_next_bracket():
    assert attainment_percent("5000.00", None) is None
    assert step("5000.00", None) is None
    result = month_attainment([SaleLine(1, datetime.date(2026, 11, 2), "10.00")], attainment(), None)
    assert (result.volume, result.target, result.percent, result.next) == (Decimal("10.00"), None, None, None)


def test_only_target_percent_tables_have_percent_brackets():
    with pytest.raises(PlanError):
        next_bracket(Plan(tiers=(("0", "2"), ("5000", "4")), tier_mode="marginal"), "10.00", "100.00")
    with pytest.raises(PlanError):
        next_bracket(Plan(base_rate="3"), "10.00", "100.00")
    # month_attainment simply has no next bracket to offer under an amount plan or no plan.
    assert month_attainment([], Plan(base_rate="3"), "100.00").next is None
    assert month_attainment([], None, "100.00").percent == Decimal("0.00")


@pytest.mark.parametrize("volume, target", [("-1.00", "10.00"), ("1.001", "10.00"), ("1.00", "0.00"),
                                            ("1.00", "-5.00"), ("1.00", "x")])
def test_bad_figures_are_refused(volume, target):
    with pytest.raises(EngineError):
        attainment_percent(volume, target)
    with pytest.raises(EngineError):
        next_bracket(attainment(), volume, target)


def test_floats_are_refused():
    with pytest.raises(TypeError):
        attainment_percent(10.0, "100.00")


def test_month_volume_is_the_holders_credits_all_lines_counted():
    """A co-agent's 40% of 1,000.00 (400.00), an override line and a no-plan line all add volume."""
    plan = attainment()
    day = datetime.date(2026, 11, 3)
    lines = [SaleLine(1, day, "1000.00", plan=plan, shares=("60", "40"), holder=1),
             SaleLine(2, day, "500.00", "SVC", plan=Plan(tiers=H_TIERS, tier_mode="marginal", basis="target_percent",
                                                          product_rates={"SVC": "1"})),
             SaleLine(3, day, "100.00")]
    result = month_attainment(lines, plan, "2000.00")
    assert result.volume == Decimal("1000.00")
    assert result.percent == Decimal("50.00")
    assert (result.next.percent, result.next.threshold, result.next.more) == (
        Decimal("100.0000"), Decimal("2000.00"), Decimal("1000.00"))


# ---- Property: X is exactly what reaches Y, one cent less does not ----------------------------

percents = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(300), places=4)


@st.composite
def months(draw):
    """A target_percent table (distinct from-percents, strictly rising rates), a target, a volume."""
    starts = sorted(set(draw(st.lists(percents, min_size=1, max_size=6))))
    tiers = tuple((start, Decimal(index)) for index, start in enumerate([Decimal(0), *starts]))
    target = Decimal(draw(st.integers(1, 10**9))).scaleb(-2)
    volume = Decimal(draw(st.integers(0, 4 * 10**9))).scaleb(-2)
    return tiers, target, volume


def _threshold(target: Decimal, percent: Decimal) -> Decimal:
    """The rule written out: target x percent / 100, half-up to the cent."""
    return (target * percent / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)


@CI
@given(months())
def test_selling_x_more_reaches_y_exactly(month):
    tiers, target, volume = month
    plan = attainment(tiers, "retroactive")
    found = next_bracket(plan, volume, target)
    above = [start for start, _ in tiers if _threshold(target, start) > volume]
    if not above:
        assert found is None
        return
    assert found is not None
    assert found.more >= Decimal("0.01")
    reached = volume + found.more
    assert reached == found.threshold == _threshold(target, found.percent)
    assert _threshold(target, min(above)) == found.threshold  # the nearest threshold above, none skipped
    assert reached - Decimal("0.01") < found.threshold

    def rate_with(total: Decimal) -> Decimal:
        """The retroactive rate one line of `total` earns: the bracket the engine places it in."""
        return compute_month([SaleLine(1, datetime.date(2026, 11, 2), total, plan=plan)], target=target)[1].rate

    # Through the allocation itself: volume + X earns bracket Y's rate, one cent less a lower one.
    assert rate_with(reached) == found.rate
    assert rate_with(reached - Decimal("0.01")) < found.rate


@CI
@given(st.integers(0, 10**12), st.integers(1, 10**10))
def test_percent_is_the_largest_hundredth_not_above_the_exact_ratio(volume_cents, target_cents):
    volume, target = Decimal(volume_cents).scaleb(-2), Decimal(target_cents).scaleb(-2)
    percent = attainment_percent(volume, target)
    assert percent.as_tuple().exponent == -2
    with localcontext(prec=80):
        assert percent * target <= volume * 100 < (percent + Decimal("0.01")) * target
