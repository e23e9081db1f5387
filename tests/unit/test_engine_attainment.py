"""Attainment tiers (COMMISSION_RULES.md section 9): tables whose brackets are percents of a target."""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.commissions.engine import (EngineError, PercentBracket, Plan, PlanError, SaleLine, TierBasis,
                                       compute_month, estimate_line, month_total, pending_total)

CI = settings(max_examples=150, deadline=None)
H_TIERS = (("0", "2"), ("50", "4"), ("100", "6"))


@pytest.fixture(autouse=True)
def _rollback():
    """The engine needs no app and no database: stand in for the suite's per-test transaction."""
    yield


def nov(day: int) -> datetime.date:
    """A day of November 2026."""
    return datetime.date(2026, 11, day)


def attainment(mode: str, tiers=H_TIERS, **overrides) -> Plan:
    """A target_percent plan."""
    return Plan(tiers=tiers, tier_mode=mode, basis="target_percent", **overrides)


def example_h(plan: Plan) -> list[SaleLine]:
    """Example H's three approved sales under `plan`."""
    return [SaleLine(1, nov(4), "5000.00", plan=plan), SaleLine(2, nov(12), "4000.00", plan=plan),
            SaleLine(3, nov(20), "4000.00", plan=plan)]


def figures(results) -> list[str]:
    """The commissions as strings, in allocation order."""
    return [str(result.commission) for result in results.values()]


def test_example_h_marginal_with_rounded_thresholds():
    results = compute_month(example_h(attainment("marginal")), target="12345.67")
    assert figures(results) == ["100.00", "136.54", "173.09"]
    assert results[2].table.thresholds == (Decimal("0.00"), Decimal("6172.84"), Decimal("12345.67"))
    assert [(str(p.amount), str(p.rate)) for p in results[2].portions] == [("1172.84", "2.0000"),
                                                                         ("2827.16", "4.0000")]
    assert results[2].exact == Decimal("136.5432")
    assert not any(result.no_target for result in results.values())


@pytest.mark.parametrize("target, expected", [
    ("12345.67", ["300.00", "240.00", "240.00"]),
    ("13000.00", ["300.00", "240.00", "240.00"]),   # reached exactly: half-open brackets
    ("13000.01", ["200.00", "160.00", "160.00"]),   # 50% threshold 6,500.005 -> 6,500.01
])
def test_example_h_retroactive(target, expected):
    assert figures(compute_month(example_h(attainment("retroactive")), target=target)) == expected


@pytest.mark.parametrize("mode", ["marginal", "retroactive"])
def test_no_target_earns_the_first_rate_and_is_flagged(mode):
    """Whatever the volume; an override keeps its rate unflagged; a no-plan line is not 'no target'."""
    plan = attainment(mode, product_rates={"SVC": "1"})
    lines = example_h(plan) + [SaleLine(4, nov(21), "100.00", "SVC", plan=plan), SaleLine(5, nov(22), "10.00")]
    results = compute_month(lines)
    assert figures(results) == ["100.00", "80.00", "80.00", "1.00", "0.00"]
    assert [sale_id for sale_id, result in results.items() if result.no_target] == [1, 2, 3]
    assert results[1].table.target is None and results[1].table.thresholds == ()


@pytest.mark.parametrize("mode, expected", [("marginal", ["0.40", "0.40"]), ("retroactive", ["1.20", "0.60"])])
def test_two_percents_rounding_to_one_amount_leave_the_lower_bracket_empty(mode, expected):
    """Target 100.00: 50% and 50.004% are both 50.00; 3% applies from 50.00, 2% never."""
    plan = attainment(mode, tiers=(("0", "1"), ("50", "2"), ("50.004", "3")))
    results = compute_month([SaleLine(1, nov(3), "40.00", plan=plan), SaleLine(2, nov(4), "20.00", plan=plan)],
                            target="100.00")
    assert figures(results) == expected
    assert results[1].table.thresholds == (Decimal("0.00"), Decimal("50.00"), Decimal("50.00"))
    assert all(portion.amount > 0 for result in results.values() for portion in result.portions)


def test_mixed_bases_in_one_month_carry_the_volume():
    """A target_percent plan to the 15th, an amount plan after: each line its own plan, one volume."""
    a = attainment("marginal", tiers=(("0", "2"), ("100", "4")))
    b = Plan(tiers=(("0", "3"), ("4000", "6")), tier_mode="marginal")
    lines = [SaleLine(1, nov(3), "2000.00", plan=a), SaleLine(2, nov(10), "1500.00", plan=a),
             SaleLine(3, nov(20), "1000.00", plan=b)]
    assert figures(compute_month(lines, target="3000.00")) == ["40.00", "40.00", "45.00"]
    no_target = compute_month(lines)
    assert figures(no_target) == ["40.00", "30.00", "45.00"]
    assert [result.no_target for result in no_target.values()] == [True, True, False]


def test_estimates_and_pending_totals_use_the_target():
    plan = attainment("marginal")
    approved = example_h(plan)[:1]
    candidate = SaleLine(None, nov(12), "4000.00", plan=plan)
    assert str(estimate_line(approved, candidate, target="12345.67").commission) == "136.54"
    assert str(estimate_line(approved, candidate).commission) == "80.00"
    assert str(pending_total(approved, example_h(plan)[1:], target="12345.67")) == "309.63"


@pytest.mark.parametrize("kwargs, error, message", [
    ({"tiers": (("0", "2"), ("50.00001", "4")), "tier_mode": "marginal", "basis": "target_percent"},
     PlanError, "more than four decimals"),
    ({"tiers": (("0", "2"), ("-5", "4")), "tier_mode": "marginal", "basis": "target_percent"},
     PlanError, "must not be negative"),
    ({"tiers": (("10", "2"),), "tier_mode": "marginal", "basis": "target_percent"}, PlanError, "start at 0"),
    ({"base_rate": "3", "basis": "target_percent"}, PlanError, "basis applies only to a tier table"),
    ({"base_rate": "3", "basis": "amount"}, PlanError, "basis applies only to a tier table"),
    ({"tiers": (("0", "2"),), "tier_mode": "marginal", "basis": "quota"}, PlanError, "basis must be"),
    ({"tiers": (PercentBracket("0", "2"),), "tier_mode": "marginal"}, PlanError, "needs Brackets"),
])
def test_bad_attainment_plans_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        Plan(**kwargs)


def test_percents_above_100_are_valid_and_the_basis_defaults_to_amount():
    plan = attainment("marginal", tiers=(("0", "2"), ("150", "8"), ("200", "10")))
    assert [b.from_percent for b in plan.tiers] == [Decimal("0.0000"), Decimal("150.0000"), Decimal("200.0000")]
    assert Plan(tiers=(("0", "3"),), tier_mode="marginal").basis is TierBasis.AMOUNT
    assert Plan(base_rate="3").basis is None


@pytest.mark.parametrize("target, error", [("0.00", EngineError), ("12.345", EngineError), (100.0, TypeError),
                                           ("-5", EngineError)])
def test_a_target_is_money_of_at_least_a_cent(target, error):
    with pytest.raises(error):
        compute_month([SaleLine(1, nov(2), "1.00", plan=attainment("marginal"))], target=target)


percents = st.integers(min_value=1, max_value=3_000_000).map(lambda n: Decimal(n).scaleb(-4))


@CI
@given(target_cents=st.integers(min_value=1, max_value=10**9),
       steps=st.lists(percents, min_size=1, max_size=4),
       amounts=st.lists(st.integers(min_value=0, max_value=10**8), min_size=1, max_size=8),
       mode=st.sampled_from(["marginal", "retroactive"]))
def test_a_target_percent_table_is_the_amount_table_of_its_thresholds(target_cents, steps, amounts, mode):
    """Resolving the percents against the target, then computing, equals an amount table of those
    thresholds (where two thresholds coincide, the higher bracket's rate)."""
    starts = [Decimal(0)]
    for step in steps:
        starts.append(starts[-1] + step)
    rates = [Decimal(i + 1) for i in range(len(starts))]
    plan = attainment(mode, tiers=tuple(zip(starts, rates)))
    target = Decimal(target_cents).scaleb(-2)
    by_amount: dict[Decimal, Decimal] = {}
    for start, rate in zip(starts, rates):
        by_amount[(target * start / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)] = rate
    twin = Plan(tiers=tuple(by_amount.items()), tier_mode=mode)
    days = [min(i + 1, 30) for i in range(len(amounts))]
    lines = [SaleLine(i + 1, nov(day), Decimal(c).scaleb(-2), plan=plan) for i, (day, c) in enumerate(zip(days, amounts))]
    twins = [SaleLine(line.id, line.date, line.amount, plan=twin) for line in lines]
    got, want = compute_month(lines, target=target), compute_month(twins)
    assert figures(got) == figures(want)
    assert month_total(got) == month_total(want)
