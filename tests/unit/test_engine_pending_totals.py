"""engine.pending_totals gives, for each set of pending lines, exactly pending_total (with the target)
and pending_spiff_total (with the SPIFFs) of that set, though it computes the approved month once and
both figures in one pass.

Checked on every golden case (split credit, attainment tiers with and without a target, SPIFFs with
caps), its lines divided at random into approved and two pending sets, one of them repeated.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.golden_files import CASES_FILE, EXTRA_FILE, V2_FILE, load
from webapp.commissions.engine import check_target, pending_spiff_total, pending_total, pending_totals
from webapp.commissions.golden import lines_from_case, spiffs_from_case

GOLDEN = [case for path in (CASES_FILE, EXTRA_FILE, V2_FILE) for case in load(path)["cases"]]


@pytest.fixture(autouse=True)
def _rollback():
    """The engine needs no app and no database: stand in for the suite's per-test transaction."""
    yield


@settings(max_examples=150, deadline=None)
@given(case=st.sampled_from(GOLDEN), data=st.data())
def test_each_set_gets_its_own_pending_and_spiff_totals(case, data):
    """Approved lines and pending sets drawn from a golden month: the same figures as one
    pending_total and one pending_spiff_total per set."""
    lines = lines_from_case(case)
    target = check_target(case.get("target"))
    spiffs = spiffs_from_case(case) if "spiffs" in case else []
    where = data.draw(st.lists(st.sampled_from(["approved", "first", "second"]), min_size=len(lines),
                               max_size=len(lines)))
    approved = [line for line, kind in zip(lines, where) if kind == "approved"]
    first = [line for line, kind in zip(lines, where) if kind == "first"]
    second = [line for line, kind in zip(lines, where) if kind != "approved"]
    sets = [first, second, first, []]
    expected = [(pending_total(approved, chosen, target=target), pending_spiff_total(approved, chosen, spiffs=spiffs))
                for chosen in sets]
    assert pending_totals(approved, sets, target=target, spiffs=spiffs) == expected
    assert all(type(total) is Decimal for pair in expected for total in pair)


def test_no_pending_lines_add_nothing_and_compute_nothing():
    """Empty sets add 0.00 each (as pending_total says), even against an approved month the engine
    would refuse: nothing is computed for them."""
    assert pending_totals(["not a line"], [[], []]) == [(Decimal("0.00"), Decimal("0.00"))] * 2


def test_sets_made_on_the_fly_are_never_mistaken_for_one_another():
    """Sets a generator makes and drops one after another (their lines' memory reused) each get
    their own figures: the reuse of an equal set's figures is by the very same lines only."""
    import datetime

    from webapp.commissions.engine import Plan, SaleLine

    plan = Plan(base_rate=Decimal("10"))

    def sets():
        for sale_id, amount in ((1, "100.00"), (2, "500.00"), (3, "900.00")):
            yield [SaleLine(sale_id, datetime.date(2026, 11, 2), Decimal(amount), plan=plan)]

    assert [commission for commission, _ in pending_totals([], sets())] == [
        Decimal("10.00"), Decimal("50.00"), Decimal("90.00")]
