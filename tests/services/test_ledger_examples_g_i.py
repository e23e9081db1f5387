"""COMMISSION_RULES.md section 7, examples G (split credit), H (attainment tiers) and I (SPIFFs),
through the ledger and the database, as test_ledger_examples.py does for A-F.

Split credits and SPIFF versions are written as rows here (the split-sale and SPIFF services have
their own tests); every figure comes from recomputing the ledger and reading its entries."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from webapp.commissions import engine, ledger
from webapp.commissions.models import CommissionEntry, EntryKind, Target
from webapp.commissions.periods import close_period, period_for
from webapp.extensions import db
from webapp.money import from_cents, rate_to_units, to_cents
from webapp.sales.models import SaleCredit
from webapp.sales.services import approve_sale, void_sale
from webapp.spiffs.models import Spiff, SpiffVersion

NOV = date(2026, 11, 1)


def d(day: int) -> date:
    """A day of November 2026."""
    return date(2026, 11, day)


def entries_of(agent) -> list[tuple]:
    """(period start day, kind, sale id, spiff id, amount) of every entry of the agent, sorted."""
    rows = db.session.scalars(select(CommissionEntry).where(CommissionEntry.agent_id == agent.id)).all()
    return sorted(((e.period.start_date.day, e.kind, e.sale_id, e.spiff_id, from_cents(e.amount_cents)) for e in rows),
                  key=lambda row: (row[0], row[1], row[2], row[3] or 0))


def commission_of(agent, sale) -> Decimal:
    """The agent's commission entries for the sale, summed (line plus adjustments)."""
    return sum((amount for _, kind, sale_id, spiff_id, amount in entries_of(agent)
                if sale_id == sale.id and spiff_id is None), Decimal("0.00"))


def split(sale, holders_and_shares: list[tuple]) -> None:
    """Give a pending sale these holders (primary first) with credits allocated by the engine."""
    shares = [Decimal(share) for _, share in holders_and_shares]
    credits = engine.split_credit(from_cents(sale.amount_cents), shares)
    sale.credits.clear()
    db.session.flush()
    for position, ((agent, share), credit) in enumerate(zip(holders_and_shares, credits)):
        sale.credits.append(SaleCredit(agent_id=agent.id, position=position, share_units=rate_to_units(Decimal(share)),
                                       credit_cents=to_cents(credit), team_id=agent.manager_id))
    db.session.flush()


def attainment_plan(factory, tiers, tier_mode):
    """A target_percent plan: brackets start at percents of the month's target."""
    plan = factory.plan(tiers=[(str(i * 1000), rate) for i, (_, rate) in enumerate(tiers)], tier_mode=tier_mode)
    version = plan.versions[0]
    version.basis = "target_percent"
    for tier, (start, _) in zip(version.tiers, tiers):
        tier.from_cents, tier.from_percent_units = None, rate_to_units(Decimal(start))
    db.session.flush()
    return plan


def set_target(agent, amount: str) -> None:
    """The agent's November target (replacing any), without recomputing."""
    target = db.session.scalar(select(Target).where(Target.agent_id == agent.id, Target.month == NOV))
    if target is None:
        db.session.add(Target(agent_id=agent.id, month=NOV, amount_cents=to_cents(Decimal(amount))))
    else:
        target.amount_cents = to_cents(Decimal(amount))
    db.session.flush()


# ---- G. Split credit ----------------------------------------------------------------------------


@pytest.fixture
def trio(factory, today):
    """Ana on marginal tiers [[0, 3], [5000, 5]], Ben on a flat 4%, Cy with no plan."""
    today(d(10))
    ana, ben, cy = factory.user("agent"), factory.user("agent"), factory.user("agent")
    factory.assign(ana, factory.plan(tiers=[("0", "3"), ("5000", "5")], tier_mode="marginal"))
    factory.assign(ben, factory.plan(base_rate="4"))
    return ana, ben, cy


def test_g_split_credit_earns_under_each_holders_own_plan(factory, trio):
    ana, ben, cy = trio
    earlier = factory.sale(ana, "4800.00", d(3))
    s2 = factory.sale(ana, "1000.00", d(10), approve=False)
    split(s2, [(ana, "33.3334"), (ben, "33.3333"), (cy, "33.3333")])
    assert [c.credit_cents for c in s2.credits] == [33334, 33333, 33333]
    approve_sale(ana.manager, s2)
    assert commission_of(ana, earlier) == Decimal("144.00")
    assert commission_of(ana, s2) == Decimal("12.67")
    assert commission_of(ben, s2) == Decimal("13.33")
    assert commission_of(cy, s2) == Decimal("0.00")
    line = db.session.scalar(select(CommissionEntry).where(CommissionEntry.agent_id == ana.id,
                                                           CommissionEntry.sale_id == s2.id))
    derivation = line.derivation
    assert [Decimal(derivation[k]) for k in ("credited", "share", "volume_before", "volume_after", "exact")] == [
        Decimal("333.34"), Decimal("33.3334"), Decimal("4800.00"), Decimal("5133.34"), Decimal("12.667")]
    assert [[Decimal(a), Decimal(r)] for a, r in derivation["portions"]] == [
        [Decimal("200.00"), Decimal(3)], [Decimal("133.34"), Decimal(5)]]
    assert "Credit: 333.34 of the sale's 1,000.00 (primary, share 33.3334%" in derivation["words"][0]
    # Cy's volume grows by his credit even without a plan: his month lists the line at 0.00.
    cy_month = ledger.holder_month(cy.id, NOV)
    assert [line.credited for line in cy_month.lines] == [Decimal("333.33")]
    void_sale(ana.manager, s2, "order cancelled")
    assert [commission_of(agent, s2) for agent in (ana, ben, cy)] == [Decimal("0.00")] * 3
    assert entries_of(ben) == [] and entries_of(cy) == []


# ---- H. Attainment tiers ------------------------------------------------------------------------

H_TIERS = [("0", "2"), ("50", "4"), ("100", "6")]


@pytest.fixture
def h_sales(factory, today):
    """An agent factory for example H: the plan in the given mode, the target, three approved sales."""

    def make(tier_mode: str, target: str | None):
        today(d(20))
        agent = factory.user("agent")
        factory.assign(agent, attainment_plan(factory, H_TIERS, tier_mode))
        if target is not None:
            set_target(agent, target)
        return agent, [factory.sale(agent, amount, d(day)) for amount, day in
                       (("5000.00", 4), ("4000.00", 12), ("4000.00", 20))]

    return make


@pytest.mark.parametrize("mode,target,expected", [
    ("marginal", "12345.67", ["100.00", "136.54", "173.09"]),
    ("retroactive", "12345.67", ["300.00", "240.00", "240.00"]),
    ("retroactive", "13000.00", ["300.00", "240.00", "240.00"]),
    ("retroactive", "13000.01", ["200.00", "160.00", "160.00"]),
    ("marginal", None, ["100.00", "80.00", "80.00"]),
    ("retroactive", None, ["100.00", "80.00", "80.00"]),
])
def test_h_attainment_tiers_against_the_months_target(h_sales, mode, target, expected):
    agent, sales = h_sales(mode, target)
    assert [commission_of(agent, sale) for sale in sales] == [Decimal(x) for x in expected]
    flags = [db.session.scalar(select(CommissionEntry.derivation).where(
        CommissionEntry.sale_id == sale.id, CommissionEntry.agent_id == agent.id))["no_target"] for sale in sales]
    assert flags == [target is None] * 3


def test_h_a_target_change_after_the_month_closed_becomes_adjustments(h_sales, today):
    agent, sales = h_sales("retroactive", "12345.67")
    today(date(2026, 12, 2))
    close_period(None, period_for(d(4)))
    close_period(None, period_for(d(20)))
    set_target(agent, "13000.01")
    ledger.recompute_agent_month(agent.id, NOV)
    december = period_for(date(2026, 12, 2))
    adjustments = {sale_id: amount for start, kind, sale_id, _, amount in entries_of(agent)
                   if kind == EntryKind.ADJUSTMENT}
    assert adjustments == {sales[0].id: Decimal("-100.00"), sales[1].id: Decimal("-80.00"),
                           sales[2].id: Decimal("-80.00")}
    assert all(e.period_id == december.id for e in db.session.scalars(
        select(CommissionEntry).where(CommissionEntry.agent_id == agent.id,
                                      CommissionEntry.kind == EntryKind.ADJUSTMENT)))


# ---- I. SPIFFs ----------------------------------------------------------------------------------


def spiff(name: str, *, products=(), categories=(), per_unit=None, percent=None, cap=None) -> Spiff:
    """A SPIFF for November with one version."""
    version = SpiffVersion(version=1, effective_from=d(1), first_day=d(1), last_day=d(30),
                           per_unit_cents=to_cents(Decimal(per_unit)) if per_unit else None,
                           percent_units=rate_to_units(Decimal(percent)) if percent else None,
                           cap_cents=to_cents(Decimal(cap)) if cap else None,
                           products=list(products), categories=list(categories))
    row = Spiff(name=name, versions=[version])
    db.session.add(row)
    db.session.flush()
    return row


def spiffs_of(agent) -> dict[tuple[int, int], Decimal]:
    """{(sale id, spiff id): the agent's spiff entries for it, summed} (lines and adjustments)."""
    found: dict[tuple[int, int], Decimal] = {}
    for _, _, sale_id, spiff_id, amount in entries_of(agent):
        if spiff_id is not None:
            found[(sale_id, spiff_id)] = found.get((sale_id, spiff_id), Decimal("0.00")) + amount
    return found


def test_i_spiffs_stack_split_and_cap(factory, today):
    today(d(20))
    ana, ben = factory.user("agent"), factory.user("agent")
    for agent in (ana, ben):
        factory.assign(agent, factory.plan(base_rate="3"))
    technology = factory.category("technology")
    printer, tech2 = factory.product("PRN-1", category=technology), factory.product("TECH-2", category=technology)
    push = spiff("printer_push", products=[printer], per_unit="12.25")
    tech = spiff("tech_2pct", categories=[technology], percent="2", cap="100.00")
    s1 = factory.sale(ana, "2400.00", d(5), product=printer, quantity=4)
    s2 = factory.sale(ana, "3000.00", d(9), product=printer, quantity=3, approve=False)
    split(s2, [(ana, "50"), (ben, "50")])
    approve_sale(ana.manager, s2)
    s3 = factory.sale(ana, "1500.00", d(12), product=tech2)
    s4 = factory.sale(ana, "400.00", d(20), product=tech2)
    assert spiffs_of(ana) == {
        (s1.id, push.id): Decimal("49.00"), (s1.id, tech.id): Decimal("48.00"),
        (s2.id, push.id): Decimal("18.38"), (s2.id, tech.id): Decimal("30.00"),
        (s3.id, tech.id): Decimal("22.00"), (s4.id, tech.id): Decimal("0.00")}
    assert spiffs_of(ben) == {(s2.id, push.id): Decimal("18.37"), (s2.id, tech.id): Decimal("30.00")}
    assert [commission_of(ana, s) for s in (s1, s2, s3, s4)] == [Decimal(x) for x in ("72.00", "45.00", "45.00", "12.00")]
    capped = db.session.scalar(select(CommissionEntry).where(CommissionEntry.sale_id == s4.id,
                                                             CommissionEntry.spiff_id == tech.id))
    assert capped.kind == EntryKind.SPIFF and capped.derivation["capped"] is True
    # Void S1 after Nov 1-15 closed: its commission and SPIFFs are clawed back in Nov 16-30, and the
    # freed cap raises S3 (closed: +8.00 adjustment) and S4 (open: its line becomes 8.00).
    today(d(25))
    close_period(None, period_for(d(5)))
    void_sale(ana.manager, s1, "returned")
    second_half = period_for(d(25)).start_date.day
    adjustments = {(sale_id, spiff_id): amount for start, kind, sale_id, spiff_id, amount in entries_of(ana)
                   if kind == EntryKind.ADJUSTMENT and start == second_half}
    assert adjustments == {(s1.id, None): Decimal("-72.00"), (s1.id, push.id): Decimal("-49.00"),
                           (s1.id, tech.id): Decimal("-48.00"), (s3.id, tech.id): Decimal("8.00")}
    assert spiffs_of(ana)[(s4.id, tech.id)] == Decimal("8.00")
    assert spiffs_of(ana)[(s3.id, tech.id)] == Decimal("30.00")
