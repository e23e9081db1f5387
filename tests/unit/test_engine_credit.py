"""Split credit (COMMISSION_RULES.md section 8): split_credit and the credit of a SaleLine.

Properties with hypothesis, against exact fractions: the credits sum to the amount, each co-agent
is within one cent below its exact share, the primary is never below its own.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.commissions.engine import Plan, SaleLine, SplitError, compute_month, split_credit

CI = settings(max_examples=300, deadline=None)
CENT = Fraction(1, 100)
NOV_2 = datetime.date(2026, 11, 2)


@pytest.fixture(autouse=True)
def _rollback():
    """The engine needs no app and no database: stand in for the suite's per-test transaction."""
    yield


@st.composite
def share_lists(draw) -> list[Decimal]:
    """1-5 shares of 0.0001..100 with four decimals summing to exactly 100, primary first."""
    holders = draw(st.integers(min_value=1, max_value=5))
    # Cut 1,000,000 ten-thousandths into `holders` positive parts at distinct points.
    cuts = sorted(draw(st.lists(st.integers(min_value=1, max_value=999_999), min_size=holders - 1,
                                max_size=holders - 1, unique=True)))
    bounds = [0, *cuts, 1_000_000]
    return [Decimal(b - a).scaleb(-4) for a, b in zip(bounds, bounds[1:])]


amounts = st.integers(min_value=0, max_value=10**13).map(lambda cents: Decimal(cents).scaleb(-2))


@CI
@given(amount=amounts, shares=share_lists())
def test_credits_sum_to_the_amount_and_each_holder_is_within_a_cent(amount, shares):
    """Sum exact; co-agents in (exact - 0.01, exact]; the primary at least its exact share."""
    credits = split_credit(amount, shares)
    assert len(credits) == len(shares)
    assert sum(credits) == amount
    assert all(credit.as_tuple().exponent == -2 for credit in credits)
    exact = [Fraction(amount) * Fraction(share) / 100 for share in shares]
    for credit, share in zip(credits[1:], exact[1:]):
        assert share - CENT < Fraction(credit) <= share
    assert Fraction(credits[0]) >= exact[0]
    assert Fraction(credits[0]) - exact[0] < CENT * (len(shares) - 1) or len(shares) == 1


@CI
@given(amount=amounts, shares=share_lists())
def test_a_line_credits_its_holders_part(amount, shares):
    """SaleLine.credited is split_credit's figure for its holder, for every holder."""
    credits = split_credit(amount, shares)
    for holder in range(len(shares)):
        line = SaleLine(1, NOV_2, amount, shares=tuple(shares), holder=holder)
        assert line.credited == credits[holder]


@pytest.mark.parametrize("amount, shares, expected", [
    ("1000.00", ["33.3334", "33.3333", "33.3333"], ["333.34", "333.33", "333.33"]),
    ("0.05", ["50", "50"], ["0.03", "0.02"]),
    ("0.07", ["25", "25", "25", "25"], ["0.04", "0.01", "0.01", "0.01"]),
    ("100.01", ["50", "50"], ["50.01", "50.00"]),
    ("0.01", ["1", "99"], ["0.01", "0.00"]),
    ("5.00", ["100"], ["5.00"]),
])
def test_worked_examples(amount, shares, expected):
    """COMMISSION_RULES.md example G's figures, and the half-cent that rounds down, not up."""
    assert [str(credit) for credit in split_credit(amount, shares)] == expected


@pytest.mark.parametrize("shares, message", [
    ([], "1 to 5 holders"),
    (["20"] * 6, "1 to 5 holders"),
    (["60", "50"], "sum to exactly 100, they sum to 110"),
    (["100", "0"], "share 2 must be above 0"),
    (["150", "-50"], "share 1 must be above 0 and at most 100"),
    (["50.00001", "49.99999"], "more than four decimals"),
    (["fifty", "50"], "share 1 is not a number"),
])
def test_bad_shares_are_refused(shares, message):
    with pytest.raises(SplitError, match=message):
        split_credit("100.00", shares)


def test_floats_are_refused_for_shares_and_amounts():
    with pytest.raises(TypeError, match="float"):
        split_credit("100.00", [50.0, 50.0])
    with pytest.raises(TypeError, match="float"):
        split_credit(100.0, ["100"])


def test_a_line_refuses_a_holder_outside_its_shares_and_a_bad_quantity():
    with pytest.raises(SplitError, match="sale 7: holder 2 is not one of its 2 holders"):
        SaleLine(7, NOV_2, "10.00", shares=("50", "50"), holder=2)
    with pytest.raises(SplitError, match="sale 7: shares must sum"):
        SaleLine(7, NOV_2, "10.00", shares=("50", "40"), holder=0)
    with pytest.raises(Exception, match="quantity must be a whole number >= 1"):
        SaleLine(7, NOV_2, "10.00", quantity=0)
    with pytest.raises(TypeError, match="quantity must be an int"):
        SaleLine(7, NOV_2, "10.00", quantity=1.5)


def test_an_unsplit_line_is_unchanged():
    """No shares: credit = amount, share 100, primary; the old positional API still works."""
    line = SaleLine(1, NOV_2, Decimal("12.34"), "SKU", "cat", Plan(base_rate="3"))
    assert (line.credited, line.share, line.primary, line.shares) == (Decimal("12.34"), Decimal(100), True, ())


def test_each_holder_earns_on_its_credit_under_its_own_plan():
    """Example G: Ana (primary, marginal tiers) 12.67, Ben (co-agent, flat 4%) 13.33, Cy (no plan) 0."""
    shares = ("33.3334", "33.3333", "33.3333")
    tiers = Plan(tiers=(("0", "3"), ("5000", "5")), tier_mode="marginal")
    ana = compute_month([SaleLine(1, datetime.date(2026, 11, 3), "4800.00", plan=tiers),
                         SaleLine(2, datetime.date(2026, 11, 10), "1000.00", plan=tiers, shares=shares)])
    assert [str(r.commission) for r in ana.values()] == ["144.00", "12.67"]
    assert ana[2].volume_before == Decimal("4800.00") and ana[2].volume_after == Decimal("5133.34")
    assert ana[2].exact == Decimal("12.667")
    ben = compute_month([SaleLine(2, datetime.date(2026, 11, 10), "1000.00", plan=Plan(base_rate="4"),
                                  shares=shares, holder=1)])
    assert str(ben[2].commission) == "13.33" and str(ben[2].credited) == "333.33"
    cy = compute_month([SaleLine(2, datetime.date(2026, 11, 10), "1000.00", shares=shares, holder=2)])
    assert cy[2].no_plan and cy[2].commission == 0 and cy[2].volume_after == Decimal("333.33")
