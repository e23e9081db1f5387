"""The engine passes every golden case of the shared commission_cases.json, to the exact string.

It also passes our own commission_cases_extra.json beside this file (same format, plus per-sale
plans): mid-month plan changes, no-plan lines, rounding and overrides across plan versions.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from webapp.commissions.engine import PlanError, compute_month
from webapp.commissions.golden import lines_from_case, plan_from_json, simulate, simulate_case


def cases_path(environ: Mapping[str, str]) -> Path:
    """COMMISSION_CASES if set, else shared/commission_cases.json beside the repository folder."""
    override = environ.get("COMMISSION_CASES")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3] / "shared" / "commission_cases.json"


# Loaded at collection on purpose: a missing or broken file must fail the run, never skip.
CASES_FILE = cases_path(os.environ)
CASES_JSON = json.loads(CASES_FILE.read_text(encoding="utf-8"))
CASES = CASES_JSON["cases"]

# Our own cases, derived by hand from COMMISSION_RULES.md; the shared file stays the contract.
EXTRA_FILE = Path(__file__).with_name("commission_cases_extra.json")
EXTRA_JSON = json.loads(EXTRA_FILE.read_text(encoding="utf-8"))
EXTRA_CASES = EXTRA_JSON["cases"]


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
    """Case names are unique and every sale has exactly one expected figure."""
    names = [case["name"] for case in CASES]
    assert names and len(names) == len(set(names))
    for case in CASES:
        assert sorted(str(sale["id"]) for sale in case["sales"]) == sorted(case["expected"]), case["name"]


@pytest.mark.parametrize("case", EXTRA_CASES, ids=[case["name"] for case in EXTRA_CASES])
def test_extra_golden_case(case):
    """Each sale of our own case earns exactly the expected commission string."""
    results = compute_month(lines_from_case(case))
    got = {str(sale_id): str(result.commission) for sale_id, result in results.items()}
    assert got == case["expected"], case["why"]


def test_extra_golden_file_is_well_formed():
    """Unique names (also against the shared file), one expected figure per sale, money as strings,
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


def test_cases_path_honours_the_environment():
    """COMMISSION_CASES points the golden test at another file; otherwise the shared one."""
    assert cases_path({"COMMISSION_CASES": "/elsewhere/cases.json"}) == Path("/elsewhere/cases.json")
    default = cases_path({})
    assert default.parts[-2:] == ("shared", "commission_cases.json")
    assert default.parent.parent == Path(__file__).resolve().parents[3]
