"""Where the golden-case files are: the repository's own (tests/data) and the optional shared ones.

The repository's files always exist and are read when a test module is imported: a missing or
broken one is a broken checkout and must fail the run. The shared files live outside the
repository (COMMISSION_CASES, or shared/commission_cases.json beside the repository folder; for
the version-2 file COMMISSION_CASES_V2, or shared/commission_cases_v2.json) and are only ever read
inside a test, so a clone with nothing beside it still collects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
CASES_FILE = DATA / "commission_cases.json"
EXTRA_FILE = DATA / "commission_cases_extra.json"
V2_FILE = DATA / "commission_cases_v2.json"
# The environment variable naming each shared file, and its name beside the repository.
SHARED = {"v1": ("COMMISSION_CASES", "commission_cases.json"),
          "v2": ("COMMISSION_CASES_V2", "commission_cases_v2.json")}


def load(path: Path) -> dict[str, Any]:
    """A parsed golden-case file."""
    return json.loads(path.read_text(encoding="utf-8"))


def shared_cases_path(environ: Mapping[str, str], version: str = "v1") -> tuple[Path, bool]:
    """(path, explicit): COMMISSION_CASES (COMMISSION_CASES_V2 for "v2") if set, else the file in
    shared/ beside the repository."""
    variable, name = SHARED[version]
    override = environ.get(variable)
    if override:
        return Path(override), True
    return ROOT.parent / "shared" / name, False
