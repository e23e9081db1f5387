"""docs/commission-rules.md quotes what the product computes.

A table after `<!-- golden: NAME -->` must list every sale of that golden case (tests/data), in
allocation order, with its date, amount and the figure the engine computes (and, where the table
has the columns, the holder's credit and the SPIFF rewards). A table after
`<!-- ledger: NAME -->` is played here through the services (sales, approvals, voids, period
closes, payouts, adjustments), and must match the ledger entries, estimates or period figures
the product then holds. A few figures quoted in the prose around the tables are checked too.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.support.golden_files import CASES_FILE, EXTRA_FILE, ROOT, V2_FILE, load
from webapp.commissions import ledger
from webapp.commissions.adjustments import add_manual_adjustment
from webapp.commissions.golden import simulate_case
from webapp.commissions.models import CommissionEntry
from webapp.commissions.payouts import record_payout
from webapp.commissions.periods import close_period, period_for
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.money import from_cents
from webapp.sales.services import approve_sale, void_sale

DOC_TEXT = (ROOT / "docs" / "commission-rules.md").read_text(encoding="utf-8")
_MARKER = re.compile(r"^<!-- (golden|ledger): ([a-z0-9_-]+) -->\n((?:\|.*\|\n)+)", re.MULTILINE)
YEAR = 2026  # the ledger examples' year (the golden cases carry their own)
# The sale page's names for the entry kinds (templates/sales/detail.html).
KIND_NAMES = {"sale": "Commission", "adjustment": "Adjustment", "manual": "Manual correction"}
GOLDEN = {case["name"]: case for path in (CASES_FILE, EXTRA_FILE, V2_FILE) for case in load(path)["cases"]}
JUNE_TIERS = [("0", "2"), ("5000", "4"), ("15000", "6")]


def _cells(line: str) -> list[str]:
    """The cells of one markdown table row."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _tables(text: str) -> dict[tuple[str, str], list[dict[str, str]]]:
    """{(kind, name): rows as {header: cell}} for every marked table of the document."""
    tables = {}
    for kind, name, body in _MARKER.findall(text):
        header, _rule, *rows = body.strip("\n").split("\n")
        assert (kind, name) not in tables, f"two tables are marked {kind}: {name}"
        tables[(kind, name)] = [dict(zip(_cells(header), _cells(row), strict=True)) for row in rows]
    return tables


TABLES = _tables(DOC_TEXT)
GOLDEN_TABLES = sorted(name for kind, name in TABLES if kind == "golden")


def money(text: str) -> Decimal:
    """A figure as the document writes it ("1,080.00", "+60.00", "−65.00") as a Decimal."""
    return Decimal(text.replace(",", "").replace("−", "-").replace("+", ""))


def shown(value: Decimal) -> str:
    """A Decimal as the document writes it: thousands separators, a real minus sign."""
    return ("−" if value < 0 else "") + f"{abs(value):,.2f}"


def day(text: str, year: int = YEAR) -> date:
    """A short date of the document ("Jun 3") in `year`."""
    return datetime.strptime(f"{text} {year}", "%b %d %Y").date()


def period_of(text: str) -> tuple[date, date]:
    """First and last day of a period as the document names it ("Jun 16–30")."""
    month, first, last = re.fullmatch(r"([A-Z][a-z]{2}) (\d+)–(\d+)", text).groups()
    return day(f"{month} {first}"), day(f"{month} {last}")


# ---- The plan examples (engine) -------------------------------------------------------------


def test_the_document_marks_its_examples():
    """Every plan example names a golden case, and every ledger example is played below."""
    assert len(GOLDEN_TABLES) >= 10
    assert set(GOLDEN_TABLES) <= set(GOLDEN)
    assert {name for kind, name in TABLES if kind == "ledger"} == {
        "estimates", "trueup", "trueup-reversed", "clawback-before", "clawback-after", "late-approval",
        "balances"}


@pytest.mark.parametrize("name", GOLDEN_TABLES)
def test_a_plan_example_quotes_its_golden_case_and_the_engine(name):
    """Same sales, dates and amounts as the case, in allocation order, earning what the engine says."""
    case = GOLDEN[name]
    rows = TABLES[("golden", name)]
    everything = simulate_case(case)
    computed = {key: value for key, value in everything.items() if isinstance(value, str)}
    assert [row["Sale"] for row in rows] == [f"#{sale_id}" for sale_id in computed]
    sales = {str(sale["id"]): sale for sale in case["sales"]}
    for row in rows:
        sale_id = row["Sale"].removeprefix("#")
        sale = sales[sale_id]
        sold_on = date.fromisoformat(sale["date"])
        assert day(row["Date"], sold_on.year) == sold_on, row
        assert money(row["Amount"]) == Decimal(sale["amount"]), row
        assert money(row["Earns"]) == Decimal(computed[sale_id]) == Decimal(case["expected"][sale_id]), row
        if "Credit" in row:
            assert money(row["Credit"]) == Decimal(everything["credited"][sale_id]), row
        if "SPIFF" in row:
            assert _rewards(row["SPIFF"]) == _rewards(everything["spiff"].get(sale_id, {})), row


def _rewards(cell: str | dict[str, str]) -> dict[str, Decimal]:
    """SPIFF rewards as the document writes them ("a 1.38, b 0.70", "—") or as the engine gives them."""
    if isinstance(cell, dict):
        return {name: Decimal(reward) for name, reward in cell.items()}
    if cell == "—":
        return {}
    return {name: money(reward) for name, reward in (part.strip().rsplit(" ", 1) for part in cell.split(","))}


# ---- The ledger examples (services and database) --------------------------------------------


@pytest.fixture
def agent(factory):
    """The agent of an example (with a manager who decides the sales)."""
    return factory.user("agent")


def _entries(agent, labels: dict[int, str]) -> list[tuple]:
    """The agent's ledger as (period dates, kind, sale label, amount), sorted."""
    entries = db.session.scalars(select(CommissionEntry).where(CommissionEntry.agent_id == agent.id)).all()
    return sorted(((e.period.start_date, e.period.end_date), KIND_NAMES[e.kind], labels[e.sale_id],
                   from_cents(e.amount_cents)) for e in entries)


def _quoted(name: str) -> list[tuple]:
    """A ledger table of the document as (period dates, kind, sale label, amount), sorted."""
    return sorted((period_of(row["Period"]), row["Kind"], row["Sale"], money(row["Amount"]))
                  for row in TABLES[("ledger", name)])


def _labels(sales: dict[str, object]) -> dict[int, str]:
    """Sale id -> the document's label (#1, #2, ...)."""
    return {sale.id: label for label, sale in sales.items()}


def _june(factory, agent, today, mode: str) -> dict[str, object]:
    """Sections 10.1/10.2: #1 and #2 stated in Jun 1-15, then #3 and #4 approved in Jun 16-30."""
    factory.assign(agent, factory.plan(tiers=JUNE_TIERS, tier_mode=mode))
    sales = {}
    today(day("Jun 3"))
    sales["#1"] = factory.sale(agent, "3000.00", day("Jun 3"))
    today(day("Jun 10"))
    sales["#2"] = factory.sale(agent, "4000.00", day("Jun 10"))
    today(day("Jun 16"))
    close_period(None, period_for(day("Jun 1")))
    today(day("Jun 17"))
    sales["#3"] = factory.sale(agent, "6000.00", day("Jun 17"))
    today(day("Jun 24"))
    sales["#4"] = factory.sale(agent, "5000.00", day("Jun 24"))
    return sales


def _period_totals(agent) -> list[Decimal]:
    """The agent's period totals (earned + adjustments), oldest period first."""
    periods = sorted({e.period for e in db.session.scalars(
        select(CommissionEntry).where(CommissionEntry.agent_id == agent.id))}, key=lambda p: p.start_date)
    return [from_cents(ledger.period_summary(agent.id, p).total) for p in periods]


def test_estimates_and_the_pending_total(factory, agent, today):
    """Section 8: the approved line, each pending sale's own estimate, and the pending total."""
    factory.assign(agent, factory.plan(tiers=JUNE_TIERS, tier_mode="marginal"))
    today(day("Jun 12"))
    rows = TABLES[("ledger", "estimates")]
    sales = [factory.sale(agent, str(money(row["Amount"])), day(row["Date"]),
                          approve=row["Status"] == "approved") for row in rows]
    assert [row["Sale"] for row in rows] == ["#1", "#2", "#3"]  # recorded in this order
    for row, sale in zip(rows, sales):
        if row["Status"] == "approved":
            [entry] = db.session.scalars(
                select(CommissionEntry).where(CommissionEntry.sale_id == sale.id)).all()
            figure = from_cents(entry.amount_cents)
        else:
            figure = ledger.sale_estimate(sale)
        assert (sale.status, figure) == (row["Status"], money(row["Earns or would earn"])), row
    pending = ledger.pending_total(agent.id, day("Jun 1"))
    assert f"The pending total is {shown(pending)}" in DOC_TEXT
    assert pending != sum(ledger.sale_estimate(sale) for sale in sales if sale.status == "pending")


def test_a_retroactive_true_up_and_its_reversal(factory, agent, today):
    """Section 10.1."""
    sales = _june(factory, agent, today, "retroactive")
    assert _entries(agent, _labels(sales)) == _quoted("trueup")
    first, second = _period_totals(agent)
    assert f"June in total: {shown(first)} + {shown(second)} = {shown(first + second)}" in DOC_TEXT
    today(day("Jun 28"))
    void_sale(agent.manager, sales["#4"], "order cancelled")
    assert _entries(agent, _labels(sales)) == _quoted("trueup-reversed")


def test_a_void_after_the_period_closed_claws_back_and_moves_later_sales(factory, agent, today):
    """Section 10.2."""
    sales = _june(factory, agent, today, "marginal")
    assert _entries(agent, _labels(sales)) == _quoted("clawback-before")
    today(day("Jun 26"))
    void_sale(agent.manager, sales["#1"], "returned")
    assert _entries(agent, _labels(sales)) == _quoted("clawback-after")
    summary = ledger.period_summary(agent.id, period_for(day("Jun 16")))
    earned, adjustments, total = (from_cents(v) for v in (summary.earned, summary.adjustments, summary.total))
    assert (f"commission earned {shown(earned)}, adjustments {shown(adjustments)} and a period total\n"
            f"of {shown(total)}") in DOC_TEXT


def test_a_late_approval(factory, agent, today):
    """Section 10.3."""
    factory.assign(agent, factory.plan(base_rate="4"))
    today(day("Mar 13"))
    sale = factory.sale(agent, "1250.00", day("Mar 13"), approve=False)
    today(day("Mar 16"))
    close_period(None, period_for(day("Mar 13")))
    today(day("Mar 18"))
    approve_sale(agent.manager, sale)
    assert _entries(agent, {sale.id: "#1"}) == _quoted("late-approval")
    [entry] = db.session.scalars(select(CommissionEntry).where(CommissionEntry.sale_id == sale.id)).all()
    assert entry.reason == "Late approval of a sale dated 2026-03-13"


def test_statements_reconcile_with_payouts_an_advance_and_an_adjustment(factory, agent, today):
    """Section 13: three periods' figures, opening to closing."""
    factory.assign(agent, factory.plan(base_rate="4"))
    today(day("Mar 2"))
    factory.sale(agent, "2500.00", day("Mar 2"))
    today(day("Mar 16"))
    close_period(None, period_for(day("Mar 1")))
    today(day("Mar 20"))
    factory.sale(agent, "1000.00", day("Mar 20"))
    record_payout(agent.manager, agent_id=agent.id, amount_cents=10000, paid_on=day("Mar 20"))
    today(day("Apr 1"))
    close_period(None, period_for(day("Mar 16")))
    today(day("Apr 2"))
    with pytest.raises(ServiceError, match=r"more than the unpaid balance \(\$40\.00\)"):
        record_payout(agent.manager, agent_id=agent.id, amount_cents=20000, paid_on=day("Apr 2"))
    record_payout(agent.manager, agent_id=agent.id, amount_cents=20000, paid_on=day("Apr 2"), advance=True)
    today(day("Apr 8"))
    factory.sale(agent, "2000.00", day("Apr 8"))
    today(day("Apr 10"))
    add_manual_adjustment(agent.manager, agent.id, 1500, "Correction agreed with the agent")
    today(day("Apr 16"))
    close_period(None, period_for(day("Apr 1")))
    for row in TABLES[("ledger", "balances")]:
        start, end = period_of(row["Period"])
        period = period_for(start)
        assert (period.start_date, period.end_date, period.is_open) == (start, end, False)
        s = ledger.period_summary(agent.id, period)
        figures = [from_cents(v) for v in (s.opening, s.earned, s.adjustments, s.total, s.payouts, s.closing)]
        assert figures == [money(row[column]) for column in (
            "Opening unpaid balance", "Commission earned", "Adjustments", "Period total", "Payouts",
            "Closing unpaid balance")], row
