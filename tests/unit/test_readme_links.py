"""The README stands on the repository alone: what it links is in the repository."""

from __future__ import annotations

import re

import pytest

from tests.support.golden_files import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
# Markdown links and images with a relative target: [text](path) / ![alt](path), anchors dropped.
LOCAL_LINKS = sorted({target.split("#")[0] for target in re.findall(r"\]\(([^)\s]+)\)", README)
                      if not re.match(r"[a-z]+:", target) and not target.startswith("#")})


@pytest.fixture(autouse=True)
def _rollback():
    """Reads files only: stand in for the suite's per-test transaction."""
    yield


def test_the_readme_points_at_nothing_outside_the_repository():
    """No ../ paths (the design folder beside a checkout is not part of the product)."""
    assert "../" not in README


def test_the_readme_links_the_commission_rules():
    """The product's own commission documentation, not a file beside the repository."""
    assert "(docs/commission-rules.md)" in README


@pytest.mark.parametrize("target", LOCAL_LINKS)
def test_every_local_link_of_the_readme_exists(target):
    """Each relative link resolves to a file inside the repository."""
    path = (ROOT / target).resolve()
    assert path.is_relative_to(ROOT) and path.exists(), target
