"""`flask commissions simulate FILE`: the golden-case file in, {case: {sale id: amount}} out."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.golden_files import CASES_FILE, EXTRA_FILE, load

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


@pytest.mark.parametrize("path", [CASES_FILE, EXTRA_FILE], ids=["own", "extra"])
def test_the_output_is_every_cases_expected_figures(app, path):
    cases = load(path)["cases"]
    result = _simulate(app, path)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {case["name"]: case["expected"] for case in cases}
    assert list(json.loads(result.stdout)) == [case["name"] for case in cases]


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
