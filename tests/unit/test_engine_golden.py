"""The engine passes every golden case of the repository's own files, to the exact string.

tests/data/commission_cases.json: one plan per case (rates, overrides, tiers, rounding, order).
tests/data/commission_cases_extra.json: the same format plus per-sale plans (mid-month plan
changes, no-plan lines, overrides across plan versions).
tests/data/commission_cases_v2.json: the golden format version 2 (split credit, attainment tiers,
SPIFFs, and split cases for the allocation alone). Every figure was worked out by hand; the shared
files beside the repository, when there are, run in test_shared_golden.py.
"""

from __future__ import annotations

import copy

import pytest

from tests.support.golden_files import CASES_FILE, EXTRA_FILE, V2_FILE, load
from webapp.commissions.engine import PlanError, compute_month
from webapp.commissions.golden import (expected_output, lines_from_case, plan_from_json, simulate, simulate_case,
                                       simulate_split)

CASES_JSON = load(CASES_FILE)
CASES = CASES_JSON["cases"]
EXTRA_JSON = load(EXTRA_FILE)
EXTRA_CASES = EXTRA_JSON["cases"]
V2_JSON = load(V2_FILE)
V2_CASES = V2_JSON["cases"]
V2_SPLITS = V2_JSON["split_cases"]
V2_EXPECTED = expected_output(V2_JSON)

# The version-1 golden format: the own file uses nothing else (per-sale plans only in the extra file).
CASE_KEYS = {"name", "why", "plan", "sales", "expected"}
SALE_KEYS = {"id", "date", "amount", "sku", "category"}
PLAN_KEYS = {"base_rate", "tiers", "tier_mode", "category_rates", "product_rates"}


@pytest.fixture(autouse=True)
def _rollback():
    """The engine needs no app and no database: stand in for the suite's per-test transaction."""
    yield


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_golden_case(case):
    """Each sale of the case earns exactly the expected commission string."""
    results = compute_month(lines_from_case(case))
    got = {str(sale_id): str(result.commission) for sale_id, result in results.items()}
    assert got == case["expected"], case["why"]


def test_golden_file_is_well_formed():
    """Unique names, one expected figure per sale, money as strings, version-1 keys only, a why each."""
    names = [case["name"] for case in CASES]
    assert names and len(names) == len(set(names))
    for case in CASES:
        assert set(case) == CASE_KEYS, case["name"]
        assert case["why"].strip(), case["name"]
        assert case["plan"] is None or set(case["plan"]) == PLAN_KEYS, case["name"]
        assert all(set(sale) == SALE_KEYS for sale in case["sales"]), case["name"]
        assert sorted(str(sale["id"]) for sale in case["sales"]) == sorted(case["expected"]), case["name"]
        assert all(isinstance(sale["amount"], str) for sale in case["sales"]), case["name"]
        assert all(isinstance(value, str) for value in case["expected"].values()), case["name"]


def _covers(case) -> set[str]:
    """What a case exercises, as the names used by test_golden_file_covers_the_rules."""
    plan, sales = case["plan"], case["sales"]
    if plan is None:
        return {"no plan"}
    found = {plan["tier_mode"] or "base rate"}
    found |= {"category rate" for sale in sales if sale["category"] in plan["category_rates"]}
    found |= {"product rate" for sale in sales if sale["sku"] in plan["product_rates"]}
    found |= {"product over category" for sale in sales
              if sale["sku"] in plan["product_rates"] and sale["category"] in plan["category_rates"]}
    if plan["tiers"] and (plan["category_rates"] or plan["product_rates"]):
        found.add("override in a tiered month")
    by_id = sorted(sale["id"] for sale in sales)
    by_date_then_id = [sale["id"] for sale in sorted(sales, key=lambda sale: (sale["date"], sale["id"]))]
    if by_id != by_date_then_id and len({sale["date"] for sale in sales}) < len(sales):
        found.add("date then id")  # ids out of date order, and a date shared by two sales
    if any(sale["amount"] == "0.00" for sale in sales):
        found.add("zero amount")
    if plan["base_rate"] and len(plan["base_rate"].partition(".")[2]) == 4:
        found.add("four-decimal rate")
    return found


def test_golden_file_covers_the_rules():
    """The own file keeps a case for every rule the engine implements, whatever is edited later."""
    covered = set().union(*(_covers(case) for case in CASES))
    assert covered >= {"base rate", "marginal", "retroactive", "category rate", "product rate",
                       "product over category", "override in a tiered month", "date then id",
                       "zero amount", "four-decimal rate", "no plan"}


@pytest.mark.parametrize("case", EXTRA_CASES, ids=[case["name"] for case in EXTRA_CASES])
def test_extra_golden_case(case):
    """Each sale of our own case earns exactly the expected commission string."""
    results = compute_month(lines_from_case(case))
    got = {str(sale_id): str(result.commission) for sale_id, result in results.items()}
    assert got == case["expected"], case["why"]


def test_extra_golden_file_is_well_formed():
    """Unique names (also against the own file), one expected figure per sale, money as strings,
    and every case replays a plan change or a no-plan line through per-sale plans."""
    names = [case["name"] for case in EXTRA_CASES]
    assert names and len(names) == len(set(names))
    assert not set(names) & {case["name"] for case in CASES}
    for case in EXTRA_CASES:
        assert case["why"].strip(), case["name"]
        assert sorted(str(sale["id"]) for sale in case["sales"]) == sorted(case["expected"]), case["name"]
        assert all(isinstance(sale["amount"], str) for sale in case["sales"]), case["name"]
        assert all(isinstance(value, str) for value in case["expected"].values()), case["name"]
        assert any("plan" in sale for sale in case["sales"]), case["name"]


def test_simulate_reproduces_every_extra_expected_figure():
    """The simulator replays our own cases, per-sale plans included, to the same figures."""
    assert simulate(EXTRA_JSON) == {case["name"]: case["expected"] for case in EXTRA_CASES}


def test_simulate_reproduces_every_expected_figure():
    """The simulator's output has the shape of "expected" and matches it for every case."""
    assert simulate(CASES_JSON) == {case["name"]: case["expected"] for case in CASES}


def test_simulate_rejects_duplicate_case_names():
    """Two cases with one name would hide each other in the simulator's output."""
    doubled = {"cases": [CASES[0], CASES[0]]}
    with pytest.raises(ValueError, match="two golden cases"):
        simulate(doubled)


def test_simulate_rejects_json_numbers_for_money():
    """A JSON number parses as a float; the engine refuses it rather than round it silently."""
    case = copy.deepcopy(CASES[0])
    case["sales"][0]["amount"] = 5000.0
    with pytest.raises(TypeError, match="float"):
        simulate_case(case)
    case = copy.deepcopy(CASES[0])
    case["plan"]["base_rate"] = 3.0
    with pytest.raises(TypeError, match="float"):
        simulate_case(case)


def test_a_sale_may_carry_its_own_plan():
    """Per-sale plans replay a mid-month plan change; null means the sale had no plan."""
    case = {
        "name": "plan_change",
        "plan": {"base_rate": "3", "tiers": [], "tier_mode": None},
        "sales": [
            {"id": 1, "date": "2026-11-15", "amount": "1000.00"},
            {"id": 2, "date": "2026-11-16", "amount": "1000.00", "plan": {"base_rate": "4"}},
            {"id": 3, "date": "2026-11-17", "amount": "1000.00", "plan": None},
        ],
    }
    assert simulate_case(case) == {"1": "30.00", "2": "40.00", "3": "0.00"}


def test_plan_from_json_reports_bad_plans():
    """A malformed plan in a case is a PlanError naming the problem; null is no plan."""
    assert plan_from_json(None) is None
    with pytest.raises(PlanError, match="first bracket must start at 0"):
        plan_from_json({"base_rate": None, "tiers": [["100", "3"]], "tier_mode": "marginal"})


def test_bad_dates_name_the_sale():
    """Dates are ISO strings; anything else is rejected with the sale's id."""
    case = copy.deepcopy(CASES[0])
    case["sales"][0]["date"] = "02/11/2026"
    with pytest.raises(ValueError, match="sale 1: date"):
        simulate_case(case)
    case["sales"][0]["date"] = 20261102
    with pytest.raises(TypeError, match="sale 1: date"):
        simulate_case(case)


@pytest.mark.parametrize("case", V2_CASES, ids=[case["name"] for case in V2_CASES])
def test_v2_golden_case(case):
    """Each line of our own version-2 case: commission, credit, SPIFF rewards and no-target flags."""
    assert simulate_case(case) == V2_EXPECTED[case["name"]], case["why"]


@pytest.mark.parametrize("split", V2_SPLITS, ids=[split["name"] for split in V2_SPLITS])
def test_v2_split_case(split):
    """The allocation rule alone: co-agents rounded down, the primary (first) the rest."""
    assert simulate_split(split) == split["expected"], split["why"]


def test_simulate_reproduces_every_v2_expected_figure():
    """The simulator's whole output for the v2 file, split cases included, is its expected figures."""
    assert simulate(V2_JSON) == V2_EXPECTED


def _has_shares(case) -> bool:
    """True when some sale of the case is split."""
    return any("shares" in sale for sale in case["sales"])


def _uses_target_percent(case) -> bool:
    """True when the case plan or a sale's plan is an attainment table."""
    plans = [case["plan"]] + [sale["plan"] for sale in case["sales"] if "plan" in sale]
    return any(plan and plan.get("basis") == "target_percent" for plan in plans)


def test_v2_golden_file_is_well_formed():
    """Unique names across all own files, a why each, money as strings, and each expected_* key present
    exactly when GOLDEN_FORMAT.md says (credited iff shares, spiff iff spiffs, no_target iff attainment)."""
    names = [case["name"] for case in V2_CASES]
    assert len(names) == len(set(names))
    assert not set(names) & {case["name"] for case in CASES + EXTRA_CASES}
    for case in V2_CASES:
        name = case["name"]
        assert case["why"].strip(), name
        assert sorted(str(sale["id"]) for sale in case["sales"]) == sorted(case["expected"]), name
        assert all(isinstance(sale["amount"], str) for sale in case["sales"]), name
        assert ("expected_credited" in case) == _has_shares(case), name
        assert ("expected_spiff" in case) == ("spiffs" in case), name
        assert ("expected_no_target" in case) == _uses_target_percent(case), name
        if _has_shares(case):
            assert sorted(case["expected_credited"]) == sorted(case["expected"]), name
    for split in V2_SPLITS:
        assert split["why"].strip() and len(split["shares"]) == len(split["expected"]), split["name"]


def _covers_v2(case) -> set[str]:
    """What a v2 case exercises, as the names used by test_v2_golden_file_covers_the_features."""
    found = set()
    for sale in case["sales"]:
        if "shares" in sale:
            found.add("split as primary" if sale["holder"] == 0 else "split as co-agent")
            if "plan" in sale and sale["plan"] is None:
                found.add("split credit without a plan")
    plans = [case["plan"]] + [sale["plan"] for sale in case["sales"] if "plan" in sale]
    bases = {(plan or {}).get("basis", "amount") for plan in plans if plan and plan["tiers"]}
    for plan in plans:
        if plan and plan.get("basis") == "target_percent":
            found.add(f"attainment {plan['tier_mode']}" if case.get("target") else "no target")
    if len(bases) > 1:
        found.add("mixed bases")
    spiffs = case.get("spiffs", [])
    found |= {"per-unit SPIFF" for spiff in spiffs if spiff["per_unit"]}
    found |= {"percent SPIFF" for spiff in spiffs if spiff["percent"]}
    found |= {"SPIFF teams" for spiff in spiffs if spiff["teams"]}
    if len({spiff["name"] for spiff in spiffs}) < len(spiffs):
        found.add("SPIFF versions")
    rewards = [reward for per_sale in case.get("expected_spiff", {}).values() for reward in per_sale.values()]
    if any(spiff["cap"] for spiff in spiffs) and "0.00" in rewards:
        found.add("SPIFF cap reached")
    return found


def test_v2_golden_file_covers_the_features():
    """Our own v2 file keeps a case for each of the three features' rules, whatever is edited later."""
    covered = set().union(*(_covers_v2(case) for case in V2_CASES))
    assert covered >= {"split as primary", "split as co-agent", "split credit without a plan",
                       "attainment marginal", "attainment retroactive", "no target", "mixed bases",
                       "per-unit SPIFF", "percent SPIFF", "SPIFF teams", "SPIFF versions", "SPIFF cap reached"}
