"""commission_digest writes the canonical JSON of a derivation's numbers directly; it must give
exactly derivation_digest(commission_derivation(...)), or a recompute would rewrite every stored
derivation (or, worse, keep one whose numbers changed).

Checked on every golden case (v1, extra and v2: split credit, target_percent tables with and
without a target, SPIFFs) and on random months: every plan shape, versions changing mid-month,
lines without a plan, split shares and plan labels with characters JSON must escape.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.golden_files import CASES_FILE, EXTRA_FILE, V2_FILE, load
from webapp.commissions.derivations import (canonical_json, commission_derivation, commission_digest,
                                           derivation_digest)
from webapp.commissions.engine import LineResult, Plan, SaleLine, check_target, compute_month
from webapp.commissions.golden import lines_from_case, spiffs_from_case

CI = settings(max_examples=200, deadline=None)

GOLDEN = [(path.name, case) for path in (CASES_FILE, EXTRA_FILE, V2_FILE) for case in load(path)["cases"]]
LABELS = [None, {"name": "Standard", "version": 3, "effective_from": "2026-11-01"},
          {"name": 'Tiers "Q4" \\ naïve\n€', "version": 1, "effective_from": "2026-01-15"}]


@pytest.fixture(autouse=True)
def _rollback():
    """The engine needs no app and no database: stand in for the suite's per-test transaction."""
    yield


def assert_same_digest(results: dict[int, LineResult], label: dict | None) -> None:
    """Every line's fast digest equals the digest of its full derivation."""
    for result in results.values():
        expected = derivation_digest(commission_derivation(result, label))
        assert commission_digest(result, canonical_json(label)) == expected, result


@pytest.mark.parametrize("label", LABELS, ids=["no label", "plain", "escaped"])
@pytest.mark.parametrize("case", [case for _, case in GOLDEN], ids=[f"{file}:{case['name']}" for file, case in GOLDEN])
def test_the_digest_of_every_golden_line_matches_its_derivations(case, label):
    """Golden months (every rule of COMMISSION_RULES.md) fingerprint the same both ways."""
    spiffs = spiffs_from_case(case) if "spiffs" in case else []
    results = compute_month(lines_from_case(case), target=check_target(case.get("target")), spiffs=spiffs)
    assert results
    assert_same_digest(results, label)


rates = st.integers(min_value=0, max_value=1_000_000).map(lambda n: Decimal(n).scaleb(-4))
money = st.integers(min_value=0, max_value=2_000_000).map(lambda n: Decimal(n).scaleb(-2))


@st.composite
def tables(draw, percent: bool) -> tuple:
    """A valid tier table of amount starts (cents) or target percents, from 0, strictly ascending."""
    starts = [0]
    for gap in draw(st.lists(st.integers(min_value=1, max_value=3_000_000), max_size=4)):
        starts.append(starts[-1] + gap)
    scale = -4 if percent else -2
    return tuple((Decimal(start).scaleb(scale), draw(rates)) for start in starts)


@st.composite
def plans(draw) -> Plan | None:
    """Any plan: flat, amount tiers or target_percent tiers in either mode, with overrides; or none."""
    kind = draw(st.sampled_from(["none", "flat", "amount", "target_percent"]))
    if kind == "none":
        return None
    overrides = {"category_rates": draw(st.dictionaries(st.sampled_from(["tech", "med"]), rates, max_size=2)),
                 "product_rates": draw(st.dictionaries(st.sampled_from(["SKU-1", "SKU-2"]), rates, max_size=2))}
    if kind == "flat":
        return Plan(base_rate=draw(rates), **overrides)
    mode = draw(st.sampled_from(["marginal", "retroactive"]))
    return Plan(tiers=draw(tables(kind == "target_percent")), tier_mode=mode, basis=kind, **overrides)


shares = st.sampled_from([(), ("50", "50"), ("33.33", "33.33", "33.34"), ("60", "40"), ("99.99", "0.01")])


@CI
@given(data=st.data())
def test_the_digest_of_random_months_matches_their_derivations(data):
    """Random months under several plans (a mid-month version change), split or not, with or
    without a target, fingerprint the same both ways."""
    pool = data.draw(st.lists(plans(), min_size=1, max_size=3))
    lines = []
    for sale_id in range(1, data.draw(st.integers(min_value=1, max_value=20)) + 1):
        split = data.draw(shares)
        lines.append(SaleLine(sale_id, datetime.date(2026, 11, data.draw(st.integers(1, 30))), data.draw(money),
                              data.draw(st.sampled_from(["SKU-1", "SKU-2", "SKU-3"])),
                              data.draw(st.sampled_from(["tech", "med", "office"])), data.draw(st.sampled_from(pool)),
                              shares=split, holder=data.draw(st.integers(0, max(len(split) - 1, 0)))))
    target = data.draw(st.one_of(st.none(), st.integers(1, 5_000_000).map(lambda n: Decimal(n).scaleb(-2))))
    assert_same_digest(compute_month(lines, target=target), data.draw(st.sampled_from(LABELS)))


def test_a_changed_number_changes_the_fast_digest():
    """The fast digest is a fingerprint, not a constant: a cent more volume before gives another."""
    plan = Plan(tiers=((Decimal("0"), Decimal("5")), (Decimal("100"), Decimal("7"))), tier_mode="marginal")
    first = compute_month([SaleLine(1, datetime.date(2026, 11, 2), Decimal("60.00"), plan=plan),
                           SaleLine(2, datetime.date(2026, 11, 3), Decimal("80.00"), plan=plan)])
    second = compute_month([SaleLine(1, datetime.date(2026, 11, 2), Decimal("60.01"), plan=plan),
                            SaleLine(2, datetime.date(2026, 11, 3), Decimal("80.00"), plan=plan)])
    label = canonical_json(LABELS[1])
    assert commission_digest(first[2], label) != commission_digest(second[2], label)
    assert commission_digest(first[2], label) != commission_digest(first[2], canonical_json(LABELS[2]))
