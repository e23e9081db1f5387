"""The plan simulator runs the three plan features of COMMISSION_RULES.md sections 8-10: split
sales (the agent's share), attainment brackets against a typed target, and the SPIFFs in force;
its figures are the engine's (checked here against hand-worked examples) and it writes nothing."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from tests.services.test_ledger_examples_g_i import H_TIERS, attainment_plan, d, spiff
from tests.web._html import field_error
from tests.web.test_plan_simulator import URL, _form, _result_rows
from webapp.commissions.models import CommissionEntry
from webapp.extensions import db

HEADER = "date,amount,sku,category"


def test_a_share_column_credits_the_agents_part_of_a_split_sale(as_admin):
    csv_text = f"{HEADER},share\n2026-11-02,1000.00,,,60\n2026-11-03,100.01,,,50\n2026-11-04,200.00,,,\n"
    html = as_admin.post(URL, _form(csv_text, base_rate="3")).get_data(as_text=True)
    # 60% of 1,000.00 = 600.00 at 3% = 18.00; half of 100.01: the co-agent's 50.00 is rounded down,
    # the primary (this agent) takes 50.01 -> 1.5003 -> 1.50; an empty share is the whole sale.
    assert _result_rows(html) == {2: (Decimal("18.00"), "3%"), 3: (Decimal("1.50"), "3%"),
                                  4: (Decimal("6.00"), "3%")}
    assert "60% of $1,000.00" in html and "$600.00" in html
    assert "volume $850.01" in html  # credited amounts: 600.00 + 50.01 + 200.00
    assert "Credit: 50.01 of the sale&#39;s 100.01 (primary, share 50%" in html


def test_a_target_resolves_attainment_brackets(as_admin, factory):
    version = attainment_plan(factory, H_TIERS, "retroactive").versions[0]
    csv_text = f"{HEADER}\n2026-11-04,5000.00,,\n2026-11-12,4000.00,,\n2026-11-20,4000.00,,\n"
    # Example H: with a target of 12,345.67 the month's 13,000.00 reaches the 100% bracket (6%).
    html = as_admin.post(URL, {**_form(csv_text, version_id=version.id), "target": "12345.67"}).get_data(as_text=True)
    assert [c for c, _ in _result_rows(html).values()] == [Decimal("300.00"), Decimal("240.00"), Decimal("240.00")]
    assert "Target 12,345.67; thresholds" in html
    assert "attainment 105.3%" in html  # 13,000.00 / 12,345.67 = 105.30...%, rounded down to 0.01
    # Without a target the first bracket's rate applies (flagged "no target").
    html = as_admin.post(URL, _form(csv_text, version_id=version.id)).get_data(as_text=True)
    assert [c for c, _ in _result_rows(html).values()] == [Decimal("100.00"), Decimal("80.00"), Decimal("80.00")]
    assert "No target for the month" in html


def test_the_spiffs_in_force_are_included_when_asked(as_admin, factory):
    technology = factory.category("technology")
    printer = factory.product("PRN-SIM", category=technology)
    spiff("sim_printer_push", products=[printer], per_unit="12.25")
    spiff("sim_tech_2pct", categories=[technology], percent="2", cap="100.00")
    csv_text = f"{HEADER},quantity\n2026-11-05,2400.00,PRN-SIM,technology,4\n2026-11-09,3000.00,PRN-SIM,technology,3\n"
    without = as_admin.post(URL, _form(csv_text, base_rate="3")).get_data(as_text=True)
    assert "SPIFF rewards" not in without
    html = as_admin.post(URL, {**_form(csv_text, base_rate="3"), "include_spiffs": "y"}).get_data(as_text=True)
    # Line 2: 4 x 12.25 = 49.00 and 2% of 2,400.00 = 48.00; line 3: 3 x 12.25 = 36.75 and 2% of
    # 3,000.00 = 60.00, capped at the 52.00 left of 100.00.
    assert "SPIFF rewards $185.75" in html
    assert "cap 100.00, 52.00 left before this line: 52.00" in html
    assert db.session.scalar(select(func.count()).select_from(CommissionEntry)) == 0


def test_bad_shares_quantities_and_targets_are_named_beside_their_field(as_admin):
    for extra, row, message in ((",share", ",100.5", "the share '100.5' must be a percent above 0 and below 100"),
                                (",share", ",12.12345", "at most four decimals"),
                                (",quantity", ",0", "the quantity '0' is not a whole number"),
                                (",colour", ",red", "optionally followed by quantity and/or share")):
        response = as_admin.post(URL, _form(f"{HEADER}{extra}\n2026-11-02,10.00,,{row}\n", base_rate="3"))
        assert response.status_code == 422, extra
        assert message in field_error(response.get_data(as_text=True), "sales_csv"), extra
    response = as_admin.post(URL, {**_form(f"{HEADER}\n2026-11-02,10.00,,\n", base_rate="3"), "target": "-5"})
    assert response.status_code == 422 and field_error(response.get_data(as_text=True), "target")
