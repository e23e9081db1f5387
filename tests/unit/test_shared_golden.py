"""The shared golden files, when there are: COMMISSION_CASES, or ../shared/commission_cases.json, and
COMMISSION_CASES_V2, or ../shared/commission_cases_v2.json (split credit, attainment, SPIFFs).

The repository's own cases (tests/data) always run; these tests add each shared file's cases when
the file is there and are skipped, with the path they looked at, when it is not. Nothing here is
read at import time, so a clone with nothing beside it collects. A COMMISSION_CASES that names a
missing file is a failure, not a skip: someone asked for that file and would not see a typo.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.golden_files import ROOT, SHARED, load, shared_cases_path
from webapp.commissions.golden import expected_output, simulate, simulate_case, simulate_split


@pytest.fixture(autouse=True)
def _rollback():
    """Nothing here touches the database: stand in for the suite's per-test transaction."""
    yield


def shared_file(path: Path, explicit: bool, variable: str = "COMMISSION_CASES") -> Path:
    """The shared file's path if it exists; otherwise skip (or fail when it was named explicitly)."""
    if path.is_file():
        return path
    if explicit:
        pytest.fail(f"{variable} names {path}, which is not a file")
    pytest.skip(f"no shared golden file at {path} (set {variable} to run one)")


@pytest.fixture(params=["v1", "v2"])
def shared_path(request) -> Path:
    """Each shared golden file to run (version 1, version 2), or a skip."""
    variable = SHARED[request.param][0]
    return shared_file(*shared_cases_path(os.environ, request.param), variable)


@pytest.fixture
def shared_cases(shared_path) -> dict[str, Any]:
    """The shared golden file, parsed (a broken file fails the test)."""
    return load(shared_path)


def test_every_shared_case_passes_the_engine(shared_cases):
    """Each sale of each shared case earns exactly its expected figures (credits, SPIFFs, flags too)."""
    wrong = {}
    want = expected_output(shared_cases)
    for case in shared_cases["cases"]:
        got = simulate_case(case)
        if got != want[case["name"]]:
            wrong[case["name"]] = {"expected": want[case["name"]], "got": got, "why": case["why"]}
    for split in shared_cases.get("split_cases", []):
        if simulate_split(split) != split["expected"]:
            wrong[split["name"]] = {"expected": split["expected"], "got": simulate_split(split)}
    assert shared_cases["cases"]
    assert not wrong, json.dumps(wrong, indent=1)


def test_the_simulate_command_reproduces_the_shared_file(shared_path, shared_cases, app):
    """`flask commissions simulate FILE` prints every shared case's expected figures."""
    result = app.test_cli_runner().invoke(args=["commissions", "simulate", str(shared_path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == simulate(shared_cases)
    assert json.loads(result.stdout) == expected_output(shared_cases)


def test_the_shared_file_is_found_beside_the_repository_or_through_the_environment():
    """COMMISSION_CASES wins; otherwise shared/commission_cases.json next to the repository folder."""
    beside = ROOT.parent / "shared" / "commission_cases.json"
    assert shared_cases_path({"COMMISSION_CASES": "/elsewhere/x.json"}) == (Path("/elsewhere/x.json"), True)
    assert shared_cases_path({"COMMISSION_CASES": ""}) == (beside, False)
    assert shared_cases_path({}) == (beside, False)
    beside_v2 = ROOT.parent / "shared" / "commission_cases_v2.json"
    assert shared_cases_path({"COMMISSION_CASES_V2": "/elsewhere/y.json"}, "v2") == (Path("/elsewhere/y.json"), True)
    assert shared_cases_path({"COMMISSION_CASES": "/elsewhere/x.json"}, "v2") == (beside_v2, False)


def test_a_missing_shared_file_skips_with_the_path_it_looked_at(tmp_path):
    """Absent beside the repository: a skip that says where it looked, never an error."""
    missing = tmp_path / "shared" / "commission_cases.json"
    with pytest.raises(pytest.skip.Exception, match=f"no shared golden file at {missing}"):
        shared_file(missing, explicit=False)


def test_a_missing_file_named_by_the_environment_fails(tmp_path):
    """A COMMISSION_CASES typo must not pass quietly as a skip."""
    with pytest.raises(pytest.fail.Exception, match="COMMISSION_CASES names"):
        shared_file(tmp_path / "nope.json", explicit=True)
    with pytest.raises(pytest.fail.Exception, match="COMMISSION_CASES_V2 names"):
        shared_file(tmp_path / "nope.json", True, "COMMISSION_CASES_V2")


def test_a_present_shared_file_is_used(tmp_path):
    """When the file is there, its path is returned and nothing is skipped."""
    path = tmp_path / "commission_cases.json"
    path.write_text('{"cases": []}', encoding="utf-8")
    assert shared_file(path, explicit=False) == path
