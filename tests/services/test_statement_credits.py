"""Statements of split sales and SPIFFs: each holder's line is their credit (share and credited
amount), SPIFF rewards have their own section and subtotal, volume adds credited amounts, the page,
PDF and API show the same figures, and every figure carries the derivation the ledger stored."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from tests.conftest import browser_as
from tests.services.test_ledger_examples_g_i import d, spiff, split
from tests.web._api import API, headers_for
from webapp.commissions.models import CommissionEntry, EntryKind
from webapp.commissions.periods import period_for
from webapp.extensions import db
from webapp.sales.services import approve_sale, void_sale
from webapp.statements.rendering import render_statement
from webapp.statements.services import start_period_run, statement_pdf


@pytest.fixture
def issued(factory, today):
    """Ana (3%) sells 500.00 alone and 1,000.00 split 60/40 with Ben (4%); a printer SPIFF pays
    10.00 a unit; Nov 1-15 is closed and its statements issued."""
    today(d(10))
    ana, ben = factory.user("agent"), factory.user("agent")
    factory.assign(ana, factory.plan(base_rate="3"))
    factory.assign(ben, factory.plan(base_rate="4"))
    printer = factory.product("PRN-9")
    push = spiff("printer_push_statements", products=[printer], per_unit="10.00")
    alone = factory.sale(ana, "500.00", d(3))
    shared = factory.sale(ana, "1000.00", d(10), product=printer, quantity=2, approve=False)
    split(shared, [(ana, "60"), (ben, "40")])
    approve_sale(ana.manager, shared)
    today(d(17))
    run = start_period_run(None, period_for(d(3)))
    statements = {s.agent_id: s for s in run.statements}
    return ana, ben, alone, shared, push, statements[ana.id], statements[ben.id]


def test_each_holder_is_stated_their_credit_and_spiff_reward(issued):
    ana, ben, alone, shared, push, ana_statement, ben_statement = issued
    ana_lines = ana_statement.snapshot["lines"]
    assert [(line["sale_id"], line["amount_cents"], line["credited_cents"], line["share"], line["split"],
             line["commission_cents"]) for line in ana_lines] == [
        (alone.id, 50000, 50000, "100", False, 1500), (shared.id, 100000, 60000, "60", True, 1800)]
    [ben_line] = ben_statement.snapshot["lines"]
    assert (ben_line["credited_cents"], ben_line["share"], ben_line["commission_cents"]) == (40000, "40", 1600)
    assert [(s["sale_id"], s["spiff"], s["amount_cents"]) for s in ana_statement.snapshot["spiffs"]] == [
        (shared.id, "printer_push_statements", 1200)]
    assert [(s["amount_cents"], s["share"], s["split"], s["capped"]) for s in ben_statement.snapshot["spiffs"]] == [
        (800, "40", True, False)]
    assert (ben_line["role"], ana_lines[1]["role"]) == ("co-agent", "primary")
    totals = ana_statement.snapshot["totals"]
    # Volume adds credited amounts: the two holders' volumes add up to the sales.
    assert totals["volume"] + ben_statement.snapshot["totals"]["volume"] == 150000
    assert (totals["volume"], totals["earned"], totals["spiffs"], totals["adjustments"], totals["total"]) == (
        110000, 3300, 1200, 0, 4500)
    assert totals["closing"] == totals["opening"] + totals["total"] - totals["payouts"]


def test_every_line_carries_the_engines_derivation(issued):
    ana, ben, alone, shared, push, ana_statement, ben_statement = issued
    line = next(line for line in ana_statement.snapshot["lines"] if line["sale_id"] == shared.id)
    derivation = line["derivation"]
    assert Decimal(derivation["commission"]) == Decimal("18.00") == Decimal(line["commission_cents"]) / 100
    assert [Decimal(derivation[k]) for k in ("credited", "share", "rate")] == [Decimal("600.00"), 60, 3]
    assert derivation["plan"]["version"] == 1 and derivation["plan"]["name"]
    assert any("Credit: 600.00 of the sale's 1,000.00 (primary, share 60%" in w for w in derivation["words"])
    [reward] = ben_statement.snapshot["spiffs"]
    assert Decimal(reward["derivation"]["reward"]) == Decimal("8.00") and Decimal(reward["derivation"]["share"]) == 40
    assert "2 x 10.00 = 20.00, share 40%" in reward["derivation"]["words"][0]


def test_page_pdf_and_api_show_the_same_split_and_spiff_figures(app, issued):
    ana, ben, alone, shared, push, ana_statement, ben_statement = issued
    html = browser_as(app, ben).get(f"/statements/{ben_statement.id}").get_data(as_text=True)
    assert "40% of $1,000.00 · co-agent" in html and "SPIFF rewards" in html and "(40% share)" in html
    assert "How this was worked out" in html and "Credit: 400.00 of the sale&#39;s 1,000.00 (co-agent" in html
    db.session.commit()
    assert render_statement(ben_statement.id) == "rendered"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(statement_pdf(ben_statement))).pages)
    assert "40% of $1,000.00" in text and "SPIFF rewards" in text
    assert "How this was worked out" not in text  # the PDF states figures; the portal explains them
    detail = app.test_client().get(f"{API}/statements/{ben_statement.id}", headers=headers_for(ben)).json
    [line] = detail["lines"]
    assert (line["amount"], line["credited"], line["share"], line["split"], line["commission"]) == (
        "1000.00", "400.00", "40", True, "16.00")
    assert line["derivation"]["credited"] == "400.00" and line["derivation"]["words"]
    assert [(s["spiff"], s["amount"]) for s in detail["spiffs"]] == [("printer_push_statements", "8.00")]
    assert detail["totals"]["spiffs"] == "8.00" and detail["totals"]["total"] == "24.00"
    # Ana's statement is hers alone: Ben may not read it.
    assert app.test_client().get(f"{API}/statements/{ana_statement.id}", headers=headers_for(ben)).status_code == 404


def test_an_adhoc_range_includes_a_co_agents_credits(app, issued):
    ana, ben, alone, shared, push, ana_statement, ben_statement = issued
    figures = app.test_client().get(f"{API}/agents/{ben.id}/commissions?start=2026-11-01&end=2026-11-30",
                                    headers=headers_for(ben)).json
    assert [(line["sale_id"], line["credited"]) for line in figures["lines"]] == [(shared.id, "400.00")]
    assert (figures["volume"], figures["earned"], figures["spiffs"], figures["total"]) == (
        "400.00", "16.00", "8.00", "24.00")


def test_an_adjustment_says_what_was_stated_what_it_is_now_and_why(issued):
    ana, ben, alone, shared, push, ana_statement, ben_statement = issued
    void_sale(ana.manager, shared, "order cancelled")
    adjustments = {(e.agent_id, e.spiff_id): e for e in db.session.scalars(select(CommissionEntry).where(
        CommissionEntry.sale_id == shared.id, CommissionEntry.kind == EntryKind.ADJUSTMENT))}
    ben_clawback = adjustments[(ben.id, None)]
    assert ben_clawback.amount_cents == -1600
    assert ben_clawback.derivation["adjustment"] == {
        "stated": "16.00", "now": "0.00", "difference": "-16.00", "reason": ben_clawback.reason}
    assert "voided after its period closed" in ben_clawback.reason
    assert ben_clawback.derivation["words"][-1].startswith("Adjustment: closed periods stated 16.00; the figure is now 0.00")
    assert adjustments[(ana.id, push.id)].derivation["adjustment"]["difference"] == "-12.00"


def test_the_api_gives_each_sale_line_with_its_derivation_to_whom_may_see_it(app, issued, factory):
    ana, ben, alone, shared, push, ana_statement, ben_statement = issued
    client = app.test_client()
    mine = client.get(f"{API}/sales/{shared.id}/entries", headers=headers_for(ben)).json
    assert mine["sale_id"] == shared.id
    assert [(e["agent_id"], e["kind"], e["spiff"], e["amount"], e["period_closed"]) for e in mine["entries"]] == [
        (ben.id, "sale", None, "16.00", True), (ben.id, "spiff", "printer_push_statements", "8.00", True)]
    commission = mine["entries"][0]
    assert commission["rate"] == "4" and commission["derivation"]["credited"] == "400.00"
    assert "Credit: 400.00 of the sale's 1,000.00 (co-agent, share 40%" in commission["derivation"]["words"][0]
    assert mine["entries"][1]["derivation"]["spiff"] == "printer_push_statements"
    # The primary's manager sees both holders' lines; another agent gets 404.
    everyone = client.get(f"{API}/sales/{shared.id}/entries", headers=headers_for(ana.manager)).json
    assert {e["agent_id"] for e in everyone["entries"]} == {ana.id} | (
        {ben.id} if ben.manager_id == ana.manager_id else set())
    stranger = factory.user("agent")
    assert client.get(f"{API}/sales/{shared.id}/entries", headers=headers_for(stranger)).status_code == 404
