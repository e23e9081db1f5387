"""The pages end their transaction and read htmx headers through webapp/web.py only (read from the
source: no app, no database). The JSON API has its own framework (webapp/api/framework.py)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WEBAPP = ROOT / "webapp"
# Page modules that are not named *_routes.py: they hold views' shared parts.
VIEW_HELPERS = ("webapp/disputes/thread.py", "webapp/manage/agent_page.py", "webapp/sales/sale_page.py")
TRANSACTION = re.compile(r"\bdb\.session\.(commit|rollback)\(")
HTMX_HEADER = re.compile(r"[\"']HX-(Request|Target|Trigger)[\"']")


def _page_modules() -> list[Path]:
    """Every module of views that answer HTML (API operations excepted)."""
    found = [path for path in WEBAPP.rglob("*_routes.py") if "@operation(" not in path.read_text(encoding="utf-8")]
    return sorted(found + [ROOT / name for name in VIEW_HELPERS])


def _lines(pattern: re.Pattern) -> list[str]:
    """file:line of each match in the page modules."""
    return [f"{path.relative_to(ROOT)}:{number}" for path in _page_modules()
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]


def test_the_page_modules_are_found():
    names = {path.name for path in _page_modules()}
    assert {"sale_routes.py", "queue_routes.py", "token_routes.py", "thread.py"} <= names
    assert "sales_routes.py" not in names  # the API's


def test_no_view_commits_or_rolls_back_itself():
    """run_service (webapp/web.py) ends every page's transaction: once, after the service call."""
    assert _lines(TRANSACTION) == []


def test_no_view_reads_or_sets_htmx_headers_itself():
    """is_htmx and with_trigger (webapp/web.py) are the one way to ask "htmx?" and to trigger events."""
    assert _lines(HTMX_HEADER) == []
