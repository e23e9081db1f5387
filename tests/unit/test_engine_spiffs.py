"""SPIFFs (COMMISSION_RULES.md section 10): rewards, stacking, caps, versions, eligibility; and explain()."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from webapp.commissions.engine import (Plan, SaleLine, Spiff, SpiffError, compute_month, estimate_line,
                                       month_total, pending_spiff_total, spiff_total)
from webapp.commissions.engine_explain import explain

FLAT_3 = Plan(base_rate="3")
NOV_1, NOV_30 = datetime.date(2026, 11, 1), datetime.date(2026, 11, 30)
PRINTER_PUSH = Spiff("printer_push", NOV_1, NOV_30, products={"PRN-1"}, per_unit="12.25")
TECH_2PCT = Spiff("tech_2pct", NOV_1, NOV_30, categories={"technology"}, percent="2", cap="100.00")
SPIFFS = (PRINTER_PUSH, TECH_2PCT)
HALVES = ("50", "50")


@pytest.fixture(autouse=True)
def _rollback():
    """The engine needs no app and no database: stand in for the suite's per-test transaction."""
    yield


def nov(day: int) -> datetime.date:
    """A day of November 2026."""
    return datetime.date(2026, 11, day)


def ana_lines(void_s1: bool = False) -> list[SaleLine]:
    """Example I from Ana's side (S2 split 50/50 with Ben)."""
    lines = [SaleLine(1, nov(5), "2400.00", "PRN-1", "technology", FLAT_3, quantity=4),
             SaleLine(2, nov(9), "3000.00", "PRN-1", "technology", FLAT_3, quantity=3, shares=HALVES),
             SaleLine(3, nov(12), "1500.00", "TECH-2", "technology", FLAT_3),
             SaleLine(4, nov(20), "400.00", "TECH-2", "technology", FLAT_3)]
    return lines[1:] if void_s1 else lines


def rewards(results) -> dict[int, dict[str, str]]:
    """{sale id: {spiff: reward}} for the lines with a SPIFF."""
    return {sale_id: {s.name: str(s.reward) for s in result.spiffs}
            for sale_id, result in results.items() if result.spiffs}


def test_example_i_stacking_split_and_cap():
    results = compute_month(ana_lines(), spiffs=SPIFFS)
    assert rewards(results) == {1: {"printer_push": "49.00", "tech_2pct": "48.00"},
                                2: {"printer_push": "18.38", "tech_2pct": "30.00"},
                                3: {"tech_2pct": "22.00"}, 4: {"tech_2pct": "0.00"}}
    assert spiff_total(results) == Decimal("167.38")
    assert [str(r.commission) for r in results.values()] == ["72.00", "45.00", "45.00", "12.00"]
    s4 = results[4].spiffs[0]
    assert (s4.uncapped, s4.cap_left, s4.capped, s4.cap_left_after) == (Decimal("8.00"), 0, True, 0)
    assert results[3].spiffs[0].cap_left == Decimal("22.00")


def test_example_i_ben_and_the_void_that_frees_cap_room():
    ben = compute_month([SaleLine(2, nov(9), "3000.00", "PRN-1", "technology", None, quantity=3, shares=HALVES,
                                  holder=1)], spiffs=SPIFFS)
    assert rewards(ben) == {2: {"printer_push": "18.37", "tech_2pct": "30.00"}}
    assert ben[2].commission == 0 and ben[2].no_plan  # a holder with no plan still earns SPIFFs
    after_void = compute_month(ana_lines(void_s1=True), spiffs=SPIFFS)
    assert rewards(after_void)[3] == {"tech_2pct": "30.00"} and rewards(after_void)[4] == {"tech_2pct": "8.00"}


def test_spiff_money_is_not_tier_volume_and_plans_do_not_change_it():
    tiers = Plan(tiers=(("0", "3"), ("1000", "5")), tier_mode="marginal", product_rates={"PRN-1": "1"})
    big = Spiff("big", NOV_1, NOV_30, products={"PRN-1"}, per_unit="500.00")
    lines = [SaleLine(1, nov(2), "600.00", "PRN-1", "technology", tiers, quantity=2),
             SaleLine(2, nov(3), "500.00", "GEN-1", "office", tiers)]
    with_spiff, without = compute_month(lines, spiffs=[big]), compute_month(lines)
    assert rewards(with_spiff) == {1: {"big": "1000.00"}}
    assert month_total(with_spiff) == month_total(without) == Decimal("23.00")
    assert with_spiff[2].volume_before == Decimal("600.00")


def test_versions_share_one_cap_count_and_may_not_overlap():
    first = Spiff("push", NOV_1, nov(15), products={"P"}, per_unit="10.00", cap="50.00", version=1)
    second = Spiff("push", nov(16), NOV_30, products={"P"}, percent="5", cap="60.00", version=2)
    lines = [SaleLine(1, nov(3), "300.00", "P", quantity=3), SaleLine(2, nov(10), "300.00", "P", quantity=3),
             SaleLine(3, nov(20), "400.00", "P"), SaleLine(4, nov(25), "100.00", "P")]
    assert rewards(compute_month(lines, spiffs=[first, second])) == {
        1: {"push": "30.00"}, 2: {"push": "20.00"}, 3: {"push": "10.00"}, 4: {"push": "0.00"}}
    overlapping = Spiff("push", nov(15), NOV_30, products={"P"}, percent="5", version=2)
    with pytest.raises(SpiffError, match="versions 1 and 2 both cover 2026-11-15"):
        compute_month(lines, spiffs=[first, overlapping])


def test_eligibility_days_product_or_category_and_teams():
    north = Spiff("north", nov(10), nov(20), categories={"medical"}, teams={"north"}, percent="10")
    by_product = Spiff("med1", nov(10), nov(20), products={"MED-1"}, per_unit="1.00")
    lines = [SaleLine(1, nov(9), "10.00", "MED-1", "medical", team="north"),
             SaleLine(2, nov(10), "10.00", "MED-1", "medical", team="north"),
             SaleLine(3, nov(20), "10.00", "MED-2", "medical", team="south"),
             SaleLine(4, nov(21), "10.00", "MED-1", "medical", team="north"),
             SaleLine(5, nov(15), "10.00", "MED-1", "other")]
    assert rewards(compute_month(lines, spiffs=[north, by_product])) == {
        2: {"north": "1.00", "med1": "1.00"}, 5: {"med1": "1.00"}}


def test_estimates_include_spiffs_after_the_months_earlier_lines():
    approved = ana_lines()[:3]
    typed = SaleLine(None, nov(12), "400.00", "TECH-2", "technology", FLAT_3)
    estimate = estimate_line(approved, typed, spiffs=SPIFFS)
    assert [(s.name, str(s.reward)) for s in estimate.spiffs] == [("tech_2pct", "0.00")]
    assert pending_spiff_total(ana_lines()[:2], ana_lines()[2:], spiffs=SPIFFS) == Decimal("22.00")


@pytest.mark.parametrize("kwargs, message", [
    ({"per_unit": "1.00", "percent": "2"}, "exactly one reward"),
    ({}, "exactly one reward"),
    ({"per_unit": "0.00"}, "per_unit must be at least 0.01"),
    ({"percent": "2", "cap": "0.00"}, "cap must be at least 0.01"),
    ({"percent": "101"}, "between 0 and 100"),
    ({"percent": "2", "products": set(), "categories": set()}, "at least one product or category"),
    ({"percent": "2", "teams": set()}, "must name at least one team"),
    ({"percent": "2", "last_day": datetime.date(2026, 10, 1)}, "is after last_day"),
    ({"percent": "2", "name": " "}, "needs a name"),
])
def test_bad_spiffs_are_refused(kwargs, message):
    fields = {"name": "s", "first_day": NOV_1, "last_day": NOV_30, "products": {"P"}, **kwargs}
    with pytest.raises(SpiffError, match=message):
        Spiff(**fields)


def test_floats_and_datetimes_are_refused():
    with pytest.raises(TypeError, match="float"):
        Spiff("s", NOV_1, NOV_30, products={"P"}, percent=2.0)
    with pytest.raises(TypeError, match="datetime.date"):
        Spiff("s", datetime.datetime(2026, 11, 1, 9), NOV_30, products={"P"}, percent="2")
    with pytest.raises(TypeError, match="single str"):
        Spiff("s", NOV_1, NOV_30, products="P", percent="2")


def test_explain_tells_the_derivation_in_words():
    """The words come from the result: credit, plan, portions, volume, exact figure, SPIFF and cap."""
    results = compute_month(ana_lines(), spiffs=SPIFFS)
    words = " ".join(explain(results[2]))
    for part in ("Credit: 1,500.00 of the sale's 3,000.00 (primary, share 50%",
                 "Plan: base rate 3%", "Month's volume 2,400.00 -> 3,900.00",
                 "3 x 12.25 = 36.75, share 50% (exact 18.375) -> 18.38", "1,500.00 x 2% = 30.00"):
        assert part in words
    assert "cap reached" in " ".join(explain(results[4]))
    tiers = Plan(tiers=(("0", "3"), ("5000", "5")), tier_mode="marginal")
    split = compute_month([SaleLine(1, nov(3), "4800.00", plan=tiers),
                           SaleLine(2, nov(10), "1000.00", plan=tiers, shares=("33.3334", "33.3333", "33.3333"))])
    words = " ".join(explain(split[2]))
    assert "Portions: 200.00 x 3%; 133.34 x 5%" in words and "Exact 12.667, rounded half-up once: 12.67" in words
    target = Plan(tiers=(("0", "2"), ("50", "4")), tier_mode="marginal", basis="target_percent")
    line = compute_month([SaleLine(1, nov(3), "10.00", plan=target)], target="12345.67")[1]
    assert "Target 12,345.67; thresholds (target x from% / 100, half-up): 0% -> 0.00, 50% -> 6,172.84" in (
        " ".join(explain(line)))
    assert "No target for the month" in " ".join(explain(compute_month([SaleLine(1, nov(3), "1.00", plan=target)])[1]))
