"""The plan simulator page: pasted CSV sales through the engine, per month; writes nothing."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.support.golden_files import CASES_FILE, load
from tests.web._html import by_id, field_error, tags, within
from webapp.audit.models import AuditEvent
from webapp.catalog.models import Category, Product
from webapp.commissions.engine import SaleLine, compute_month
from webapp.commissions.golden import plan_from_json
from webapp.commissions.models import CommissionEntry, CommissionPlan, PlanVersion
from webapp.extensions import db

URL = "/admin/plans/simulator"
HEADER = "date,amount,sku,category"


CASES = {case["name"]: case for case in load(CASES_FILE)["cases"]}


def _counts() -> tuple[int, ...]:
    """Rows of every table the simulator must leave alone."""
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (CommissionPlan, PlanVersion, CommissionEntry, AuditEvent))


def _csv(sales) -> str:
    """Sales of a golden case as the simulator's CSV."""
    lines = [HEADER] + [f"{s['date']},{s['amount']},{s.get('sku') or ''},{s.get('category') or ''}" for s in sales]
    return "\r\n".join(lines) + "\r\n"


def _form(csv_text: str, version_id="", base_rate: str = "", tiers=(), tier_mode: str = "",
          categories=(), products=()) -> dict:
    """The simulator form: a version or typed rules, and the CSV."""
    form = {"sales_csv": csv_text, "version_id": str(version_id), "base_rate": base_rate, "tier_mode": tier_mode}
    for index, (start, rate) in enumerate(tiers):
        form[f"tiers-{index}-from_amount"], form[f"tiers-{index}-rate"] = start, rate
    for index, (target, rate) in enumerate(categories):
        form[f"category_rates-{index}-category_id"], form[f"category_rates-{index}-rate"] = str(target), rate
    for index, (target, rate) in enumerate(products):
        form[f"product_rates-{index}-product_id"], form[f"product_rates-{index}-rate"] = str(target), rate
    return form


def _money(text: str) -> Decimal:
    """A displayed amount ("$1,234.50") as a Decimal."""
    return Decimal(re.sub(r"[^0-9.\-]", "", text))


def _result_rows(html: str) -> dict[int, tuple[Decimal, str]]:
    """{CSV line number: (commission, effective rate text)} from the result tables."""
    page = tags(html)
    rows = {}
    for table in [t for t in page if t.name == "table" and "sim-table" in (t.attrs.get("class") or "")]:
        for row in within(table, page, "tr"):
            cells = [c.text.strip() for c in within(row, page, "td")]
            if len(cells) == 9:  # a line's row (its derivation row under it has one cell)
                rows[int(cells[0])] = (_money(cells[7]), cells[6])
    return rows


def _typed_rules(case: dict, factory) -> dict:
    """The simulator's rule fields for a golden case's plan (creating its categories and products)."""
    plan = case["plan"]
    categories = []
    for code, rate in (plan.get("category_rates") or {}).items():
        category = db.session.scalar(select(Category).where(Category.code == code)) or factory.category(code=code)
        categories.append((category.id, rate))
    products = []
    for sku, rate in (plan.get("product_rates") or {}).items():
        product = db.session.scalar(select(Product).where(Product.sku == sku)) or factory.product(sku=sku)
        products.append((product.id, rate))
    return {"base_rate": plan.get("base_rate") or "", "tiers": [tuple(row) for row in plan.get("tiers") or ()],
            "tier_mode": plan.get("tier_mode") or "", "categories": categories, "products": products}


def test_a_flat_rate_pasted_gives_the_engines_figures_and_writes_nothing(as_admin):
    case = CASES["flat_four_percent"]
    before = _counts()
    response = as_admin.post(URL, _form(_csv(case["sales"]), base_rate="4"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # Sale ids of the case are 1..4; in the CSV they are lines 2..5 (line 1 is the header).
    rows = _result_rows(html)
    assert {str(line - 1): str(commission) for line, (commission, _) in rows.items()} == case["expected"]
    assert {rate for _, rate in rows.values()} == {"4%"}
    total = sum(Decimal(v) for v in case["expected"].values())
    assert f"Result: ${total:,}" in html
    assert _counts() == before


@pytest.mark.parametrize("name", list(CASES))
def test_every_golden_case_typed_into_the_simulator_matches_its_expected_figures(as_admin, factory, name):
    case = CASES[name]
    if case["plan"] is None:
        pytest.skip("the simulator always runs a plan; a month with no plan has nothing to type")
    # The simulator allocates by date, then CSV line: lines in (date, id) order keep the case's order.
    sales = sorted(case["sales"], key=lambda sale: (sale["date"], sale["id"]))
    response = as_admin.post(URL, _form(_csv(sales), **_typed_rules(case, factory)))
    assert response.status_code == 200, field_error(response.get_data(as_text=True), "sales_csv")
    ids = {line: str(sale["id"]) for line, sale in enumerate(sales, start=2)}
    rows = _result_rows(response.get_data(as_text=True))
    assert {ids[line]: str(commission) for line, (commission, _) in rows.items()} == case["expected"], case["why"]


def test_a_stored_version_can_be_simulated(as_admin, factory):
    plan = factory.plan(tiers=[("0", "3"), ("10000", "5")], tier_mode="marginal")
    version = plan.versions[0]
    page = as_admin.get(f"{URL}?version_id={version.id}").get_data(as_text=True)
    [chosen] = [o for o in tags(page, "option") if "selected" in o.attrs and o.attrs.get("value") == str(version.id)]
    assert "version 1" in chosen.text
    csv_text = f"{HEADER}\n2026-11-02,8000.00,,\n2026-11-03,4000.00,,\n"
    response = as_admin.post(URL, _form(csv_text, version_id=version.id))
    assert response.status_code == 200
    rows = _result_rows(response.get_data(as_text=True))
    # 8000 at 3%; then 2000 at 3% and 2000 at 5% = 60 + 100.
    assert rows == {2: (Decimal("240.00"), "3%"), 3: (Decimal("160.00"), "4%")}


def test_lines_of_several_months_are_computed_month_by_month(as_admin):
    csv_text = "\n".join([HEADER, "2026-12-01,6000.00,,", "2026-11-20,6000.00,,", "2026-11-05,6000.00,,"])
    tiers = [("0", "3"), ("10000", "5")]
    response = as_admin.post(URL, _form(csv_text, tiers=tiers, tier_mode="retroactive"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    plan = plan_from_json({"tiers": tiers, "tier_mode": "retroactive"})
    november = compute_month([SaleLine(3, date(2026, 11, 20), "6000.00", plan=plan),
                              SaleLine(4, date(2026, 11, 5), "6000.00", plan=plan)])
    december = compute_month([SaleLine(2, date(2026, 12, 1), "6000.00", plan=plan)])
    expected = {line: result.commission for line, result in {**november, **december}.items()}
    assert {line: commission for line, (commission, _) in _result_rows(html).items()} == expected
    # November reached 12,000 (5% for both); December alone stays at 3%.
    assert expected == {3: Decimal("300.00"), 4: Decimal("300.00"), 2: Decimal("180.00")}
    captions = [t.text for t in tags(html, "caption")]
    assert [c.split(":")[0] for c in captions] == ["November 2026", "December 2026"]
    assert "Total over 2 months: <strong>$780.00</strong>" in html


def _rows(count: int, sku: str = "GEN-1") -> str:
    """A valid CSV of `count` sales."""
    return HEADER + "\n" + "\n".join(f"2026-11-02,10.00,{sku}," for _ in range(count)) + "\n"


@pytest.mark.parametrize("csv_text, message", [
    ("", "Paste the sales"),
    ("\n\n", "Paste the sales"),
    ("date,amount,sku\n2026-11-02,10.00,GEN-1\n", "first line must be the header"),
    ("when,amount,sku,category\n2026-11-02,10.00,,\n", "first line must be the header"),
    (HEADER + "\n", "no sales"),
    (HEADER + "\n02/11/2026,10.00,,\n", "Line 2: the date '02/11/2026' is not a date"),
    (HEADER + "\n2026-02-30,10.00,,\n", "Line 2: the date"),
    (HEADER + "\n2026-11-02,10.005,,\n", "Line 2: the amount '10.005' is not valid: Use at most two decimals."),
    (HEADER + "\n2026-11-02,-5,,\n", "not negative"),
    (HEADER + "\n2026-11-02,\"1,000.00\",,\n", "plain number"),
    (HEADER + "\n2026-11-02,NaN,,\n", "plain number"),
    (HEADER + "\n2026-11-02,10.00\n", "expected 4 values"),
    (HEADER + "\n2026-11-02,1.001,,\n2026-11-03,x,,\n\n2026-11-04,5,,\nbad\n", "Line 2:"),
    (_rows(5001), "simulate at most 5,000"),
    (_rows(4000, sku="S" * 300), "larger than 1 MB"),
])
def test_bad_csv_is_422_with_a_clear_message_beside_the_field(as_admin, csv_text, message):
    before = _counts()
    response = as_admin.post(URL, _form(csv_text, base_rate="3"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = field_error(html, "sales_csv")
    assert error is not None and message in error, error
    assert by_id(html, "sales_csv").attrs.get("aria-invalid") == "true"
    assert not _result_rows(html)
    assert _counts() == before


def test_every_bad_line_is_named_up_to_a_few(as_admin):
    csv_text = HEADER + "\n" + "\n".join(["2026-11-02,1.001,,"] * 8) + "\n"
    response = as_admin.post(URL, _form(csv_text, base_rate="3"))
    error = field_error(response.get_data(as_text=True), "sales_csv")
    assert [int(n) for n in re.findall(r"Line (\d+):", error)] == [2, 3, 4, 5, 6]
    assert "and 3 more lines with problems" in error


def test_exactly_5000_rows_are_simulated(as_admin):
    response = as_admin.post(URL, _form(_rows(5000), base_rate="3"))
    assert response.status_code == 200
    assert "Result: $1,500.00 on $50,000.00 of sales" in response.get_data(as_text=True)


def test_a_paste_beyond_the_form_limit_gets_the_simulators_message(as_admin):
    before = _counts()
    response = as_admin.post(URL, _form("x" * (5 * 1024 * 1024), base_rate="3"))
    assert response.status_code == 422
    assert "larger than 1 MB" in field_error(response.get_data(as_text=True), "sales_csv")
    assert _counts() == before


def test_a_spreadsheets_byte_order_mark_and_header_case_are_accepted(as_admin):
    response = as_admin.post(URL, _form("\ufeffDate, Amount ,SKU,Category\n2026-11-02,100.00,,\n", base_rate="2.5"))
    assert response.status_code == 200
    assert _result_rows(response.get_data(as_text=True)) == {2: (Decimal("2.50"), "2.5%")}


@pytest.mark.parametrize("changes, field, message", [
    ({"base_rate": "101"}, "base_rate", "at most 100%"),
    ({"base_rate": "3", "tiers-0-from_amount": "0", "tiers-0-rate": "4", "tier_mode": "marginal"}, "base_rate",
     "not both"),
    ({"base_rate": ""}, "version_id", "Choose a plan version or type the rules"),
    ({"base_rate": "", "tier_mode": "marginal"}, "base_rate", "needs a base rate or a tier table"),
    ({"version_id": "999999"}, "version_id", "valid choice"),
])
def test_bad_rules_are_422_beside_the_field(as_admin, changes, field, message):
    form = {**_form(_rows(1), base_rate="3"), **changes}
    response = as_admin.post(URL, form)
    assert response.status_code == 422
    error = field_error(response.get_data(as_text=True), field)
    assert error is not None and message in error, error


def test_a_version_and_typed_rules_together_are_refused(as_admin, factory):
    version = factory.plan(base_rate="3").versions[0]
    response = as_admin.post(URL, _form(_rows(1), version_id=version.id, base_rate="4"))
    assert response.status_code == 422
    assert "not both" in field_error(response.get_data(as_text=True), "version_id")


def test_an_htmx_post_gets_only_the_simulator_block(as_admin):
    form = _form(_rows(2), base_rate="3")
    form["csrf_token"] = as_admin.token(URL)
    response = as_admin.client.post(URL, data=form, headers={"HX-Request": "true", "HX-Target": "simulator"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert not tags(html, "html") and not tags(html, "nav")
    assert html.lstrip().startswith('<div id="simulator">') or by_id(html, "simulator") is not None
    assert "Result: $0.60" in html
    assert "HX-Request" in response.headers["Vary"]
