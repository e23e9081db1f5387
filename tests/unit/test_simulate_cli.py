"""`flask commissions simulate FILE`: the golden-case file in, {case: {sale id: amount}} out.

Version-2 files (GOLDEN_FORMAT.md) add "credited", "spiff", "no_target" and "split_cases" where the
input calls for them; a key the simulator does not know is refused at every level.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.golden_files import CASES_FILE, EXTRA_FILE, V2_FILE, load
from webapp.commissions.golden import expected_output

CASES_JSON = load(CASES_FILE)
FIRST = CASES_JSON["cases"][0]


def _simulate(app, path) -> object:
    """Run the command as `flask commissions simulate PATH` would."""
    return app.test_cli_runner().invoke(args=["commissions", "simulate", str(path)])


def _write(tmp_path: Path, data) -> Path:
    """A cases file holding `data` (JSON-encoded unless it is already text)."""
    path = tmp_path / "cases.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("path", [CASES_FILE, EXTRA_FILE, V2_FILE], ids=["own", "extra", "v2"])
def test_the_output_is_every_cases_expected_figures(app, path):
    data = load(path)
    result = _simulate(app, path)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == expected_output(data)
    splits = ["split_cases"] if "split_cases" in data else []
    assert list(json.loads(result.stdout)) == [case["name"] for case in data["cases"]] + splits


def test_a_version_1_file_gets_exactly_its_old_output(app):
    """No version-2 key appears unless the input calls for it: {case: {sale id: amount}} only."""
    result = _simulate(app, CASES_FILE)
    assert json.loads(result.stdout) == {case["name"]: case["expected"] for case in CASES_JSON["cases"]}


def _v2_case() -> dict:
    """A small valid version-2 case: a split sale, a target_percent plan, a SPIFF."""
    return {"name": "v2", "why": "", "target": "1000.00", "team": "north",
            "plan": {"base_rate": None, "tiers": [["0", "2"], ["100", "4"]], "tier_mode": "marginal",
                     "category_rates": {}, "product_rates": {}, "basis": "target_percent"},
            "spiffs": [{"name": "push", "first_day": "2026-11-01", "last_day": "2026-11-30", "products": ["P"],
                        "categories": [], "teams": None, "per_unit": "1.00", "percent": None, "cap": None}],
            "sales": [{"id": 1, "date": "2026-11-02", "amount": "100.00", "sku": "P", "category": "c",
                       "quantity": 2, "shares": ["50", "50"], "holder": 1}],
            "expected": {"1": "1.00"}}


def test_a_version_2_case_prints_its_extra_keys(app, tmp_path):
    result = _simulate(app, _write(tmp_path, {"cases": [_v2_case()],
                                              "split_cases": [{"name": "s", "why": "", "amount": "0.05",
                                                               "shares": ["50", "50"], "expected": []}]}))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "v2": {"1": "1.00", "credited": {"1": "50.00"}, "spiff": {"1": {"push": "1.00"}}, "no_target": []},
        "split_cases": {"s": ["0.03", "0.02"]},
    }


def _with(path: tuple, key: str) -> dict:
    """A file with one valid v2 case whose object at `path` gains an unknown `key`."""
    data = {"cases": [_v2_case()]}
    target = data
    for step in path:
        target = target[step]
    target[key] = "x"
    return data


@pytest.mark.parametrize("path, key, where", [
    ((), "version", "the file: unknown key 'version'"),
    (("cases", 0), "targets", "case 'v2': unknown key 'targets'"),
    (("cases", 0, "sales", 0), "share", "sale 1: unknown key 'share'"),
    (("cases", 0, "plan"), "bases", "plan: unknown key 'bases'"),
    (("cases", 0, "spiffs", 0), "cap_per_team", "SPIFF 'push': unknown key 'cap_per_team'"),
])
def test_an_unknown_key_is_refused_never_ignored(app, tmp_path, path, key, where):
    result = _simulate(app, _write(tmp_path, _with(path, key)))
    assert result.exit_code != 0
    assert where in result.output and "refused, not ignored" in result.output
    assert result.stdout == ""


def test_an_unknown_key_in_a_split_case_names_it(app, tmp_path):
    split = {"name": "s", "why": "", "amount": "1.00", "shares": ["100"], "expected": ["1.00"], "primary": 0}
    result = _simulate(app, _write(tmp_path, {"cases": [], "split_cases": [split]}))
    assert result.exit_code != 0
    assert "split case 's': unknown key 'primary'" in result.output


@pytest.mark.parametrize("change, message", [
    (lambda case: case["sales"][0].update(shares=["60", "50"]), "case 'v2': sale 1: shares must sum to exactly 100"),
    (lambda case: case["sales"][0].pop("holder"), "'shares' and 'holder' go together"),
    (lambda case: case["sales"][0].update(shares=[50, 50]), "float"),
    (lambda case: case.update(target=1000.0), "float"),
    (lambda case: case["spiffs"][0].update(percent="2"), "exactly one reward"),
    (lambda case: case["sales"][0].update(quantity=2.0), "quantity must be an integer"),
])
def test_bad_version_2_input_names_the_case(app, tmp_path, change, message):
    case = _v2_case()
    change(case)
    result = _simulate(app, _write(tmp_path, {"cases": [case]}))
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_relative_path_from_the_repository_works(app, project_root, monkeypatch):
    monkeypatch.chdir(project_root)
    relative = os.path.relpath(CASES_FILE, project_root)
    result = _simulate(app, relative)
    assert result.exit_code == 0, result.output
    # tests/data/commission_cases.json, first case: 4% of 2,500.00, 7,777.77, 0.01 and 0.13.
    assert json.loads(result.stdout)["flat_four_percent"] == {"1": "100.00", "2": "311.11", "3": "0.00",
                                                              "4": "0.01"}


def test_a_missing_file_is_a_clear_error(app, tmp_path):
    result = _simulate(app, tmp_path / "nope.json")
    assert result.exit_code != 0
    assert "nope.json: no such file" in result.output
    assert result.stdout == ""


@pytest.mark.parametrize("text, message", [
    ('{"cases": [', "not valid JSON"),
    ("", "not valid JSON"),
    ("[]", '"cases" is a list'),
    ('{"cases": {}}', '"cases" is a list'),
    ('{"cases": [1]}', '"cases" is a list'),
])
def test_a_file_that_is_not_a_cases_file_is_a_clear_error(app, tmp_path, text, message):
    result = _simulate(app, _write(tmp_path, text))
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def _case(name: str = "bad", **plan) -> dict:
    """A one-sale case under `plan`."""
    return {"name": name, "plan": plan, "sales": [{"id": 1, "date": "2026-11-02", "amount": "100.00"}],
            "expected": {"1": "3.00"}}


@pytest.mark.parametrize("case, message", [
    (_case(base_rate="101"), "case 'bad': base rate must be between 0 and 100"),
    (_case(base_rate="3", tiers=[["0", "4"]], tier_mode="marginal"), "case 'bad': a plan has either"),
    (_case(tiers=[["100", "4"]], tier_mode="marginal"), "case 'bad': the first bracket must start at 0"),
    (_case(tiers=[["0", "4"]]), "case 'bad': a tier table needs a tier mode"),
    (_case(), "case 'bad': a plan needs a base rate or a tier table"),
])
def test_a_case_with_an_invalid_plan_names_the_case(app, tmp_path, case, message):
    result = _simulate(app, _write(tmp_path, {"cases": [FIRST, case]}))
    assert result.exit_code != 0
    assert message in result.output
    assert result.stdout == ""


def test_json_numbers_as_amounts_are_refused_not_rounded(app, tmp_path):
    case = _case(base_rate="3")
    case["sales"][0]["amount"] = 100.1
    result = _simulate(app, _write(tmp_path, {"cases": [case]}))
    assert result.exit_code != 0
    assert "case 'bad':" in result.output and "float" in result.output


def test_duplicate_case_names_are_refused(app, tmp_path):
    result = _simulate(app, _write(tmp_path, {"cases": [FIRST, FIRST]}))
    assert result.exit_code != 0
    assert "two golden cases are named 'flat_four_percent'" in result.output


def test_a_sale_missing_its_date_says_what_is_missing(app, tmp_path):
    case = _case(base_rate="3")
    del case["sales"][0]["date"]
    result = _simulate(app, _write(tmp_path, {"cases": [case]}))
    assert result.exit_code != 0
    assert "case 'bad': missing 'date'." in result.output
