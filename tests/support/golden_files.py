"""Where the golden-case files are: the repository's own (tests/data) and the optional shared one.

The repository's files always exist and are read when a test module is imported: a missing or
broken one is a broken checkout and must fail the run. The shared file lives outside the
repository (COMMISSION_CASES, or shared/commission_cases.json beside the repository folder) and
is only ever read inside a test, so a clone with nothing beside it still collects.
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


def load(path: Path) -> dict[str, Any]:
    """A parsed golden-case file."""
    return json.loads(path.read_text(encoding="utf-8"))


def shared_cases_path(environ: Mapping[str, str]) -> tuple[Path, bool]:
    """(path, explicit): COMMISSION_CASES if set, else shared/commission_cases.json beside the repository."""
    override = environ.get("COMMISSION_CASES")
    if override:
        return Path(override), True
    return ROOT.parent / "shared" / "commission_cases.json", False
