"""Managers' money actions through the Flask client (issue 5 items 4-5): void a sale, manual
adjustments, payouts and their reversals, "pay all statements of a period"; bad input, who sees what,
and the books still reconciling after each action."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import browser_as
from tests.support.rows import counts, reload
from tests.web._html import by_id, field_error, flash_messages, html_of, redirect_path, tags, text_of, within
from webapp.audit.models import AuditEvent
from webapp.commissions import balances, ledger
from webapp.commissions.models import CommissionEntry, EntryKind, Payout, Period
from webapp.commissions.payouts import record_payout, reverse_payout
from webapp.commissions.periods import close_period, period_for
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.mail.services import deliver_email, pending_email_ids
from webapp.commissions import period_payments as money_service
from webapp.sales.models import Sale
from webapp.sales.services import void_sale

TODAY = date(2026, 11, 20)
NOV_1_15 = "Nov 1–15, 2026"


# --- helpers --------------------------------------------------------------------------------------

def _counts() -> dict[str, int]:
    """Row counts of everything a money action may write, plus the sales' statuses."""
    return {**counts(CommissionEntry, Payout, AuditEvent, OutgoingEmail),
            "statuses": sorted(db.session.scalars(select(Sale.status)).all())}


def _books_balance(agent) -> None:
    """Every period reconciles, each opens with the previous closing, and the last closes at the unpaid balance."""
    db.session.expire_all()
    previous = 0
    for period in db.session.scalars(select(Period).order_by(Period.start_date)):
        s = ledger.period_summary(agent.id, period)
        assert s.closing == s.opening + s.total - s.payouts, period.label
        assert s.opening == previous, period.label
        previous = s.closing
    assert previous == ledger.agent_balance(agent.id).unpaid


def _unpaid(agent) -> int:
    """The agent's unpaid balance now."""
    db.session.expire_all()
    return ledger.agent_balance(agent.id).unpaid


@pytest.fixture
def world(as_manager, build, factory):
    """Nov 20 2026, flat 3%. Nov 1-15 is closed.

    Ann: 10,000 on Nov 5 (300, stated), 2,000 on Nov 18 (60). Ben: 5,000 on Nov 6 (150).
    Zed (another team): 1,000 on Nov 5 (30).
    """
    build.on(date(2026, 11, 16))
    manager, (ann, ben) = build.team(as_manager.user, "Ann Archer", "Ben Baker")
    zed = build.agent("Zed Zimmer")
    stated = factory.sale(ann, "10000.00", date(2026, 11, 5))
    factory.sale(ben, "5000.00", date(2026, 11, 6))
    zed_sale = factory.sale(zed, "1000.00", date(2026, 11, 5))
    build.close(date(2026, 11, 5))
    build.on(TODAY)
    recent = factory.sale(ann, "2000.00", date(2026, 11, 18))
    db.session.commit()
    return {"manager": manager, "ann": ann, "ben": ben, "zed": zed, "stated": stated, "recent": recent,
            "zed_sale": zed_sale}


def _agent_page(world, name="ann") -> str:
    """The agent page (a page with the CSRF token)."""
    return f"/manage/agents/{world[name].id}"


def _void(browser, world, sale, reason="Customer refunded", back="agent"):
    """POST the void form."""
    return browser.post(f"/manage/sales/{sale.id}/void", {"reason": reason, "back": back},
                        token_from=_agent_page(world))


# --- void -----------------------------------------------------------------------------------------

def test_void_in_an_open_period_removes_the_entry_and_emails_the_agent(as_manager, world, outbox):
    recent, ann = world["recent"], world["ann"]
    before = _unpaid(ann)
    response = _void(as_manager, world, recent, reason="Order cancelled by the clinic")
    assert response.status_code == 302
    assert redirect_path(response) == f"/manage/agents/{ann.id}#sale-{recent.id}"
    sale = reload(recent)
    assert (sale.status, sale.reason, sale.decided_by_id) == ("voided", "Order cancelled by the clinic",
                                                              world["manager"].id)
    assert db.session.scalars(select(CommissionEntry).where(CommissionEntry.sale_id == recent.id)).all() == []
    assert _unpaid(ann) == before - 6000
    _books_balance(ann)
    page = html_of(as_manager.get(_agent_page(world)))
    assert f"Sale #{recent.id} voided; Ann Archer has been emailed the reason." in flash_messages(page)
    # The email was queued with the decision; delivering the queue puts it in the outbox.
    for email_id in pending_email_ids():
        deliver_email(email_id)
    [message] = [m for m in outbox.list() if m.to == ann.email]
    assert "voided" in message.subject.lower()
    assert "Order cancelled by the clinic" in message.text


def test_void_in_a_closed_period_posts_a_clawback_in_the_open_period(as_manager, world):
    stated, ann = world["stated"], world["ann"]
    response = as_manager.post(f"/manage/sales/{stated.id}/void", {"reason": "Refunded", "back": "sale"},
                               token_from=f"/sales/{stated.id}")
    assert response.status_code == 302 and redirect_path(response) == f"/sales/{stated.id}"
    db.session.expire_all()
    entries = db.session.scalars(select(CommissionEntry).where(CommissionEntry.sale_id == stated.id)
                                 .order_by(CommissionEntry.id)).all()
    assert [(e.kind, e.period.start_date, e.amount_cents) for e in entries] == [
        (EntryKind.SALE, date(2026, 11, 1), 30000),          # the stated line never changes
        (EntryKind.ADJUSTMENT, date(2026, 11, 16), -30000),  # the clawback, in the open period
    ]
    assert "Clawback" in entries[1].reason
    assert ledger.period_summary(ann.id, period_for(TODAY)).adjustments == -30000
    _books_balance(ann)


def test_voiding_twice_is_a_conflict_with_a_clear_message(as_manager, world):
    recent = world["recent"]
    assert _void(as_manager, world, recent).status_code == 302
    before = _counts()
    response = _void(as_manager, world, recent, reason="Again")
    assert response.status_code == 409
    assert any("already voided" in f for f in flash_messages(html_of(response)))
    assert _counts() == before
    from_sale_page = as_manager.post(f"/manage/sales/{recent.id}/void", {"reason": "Again", "back": "sale"},
                                     token_from=f"/sales/{recent.id}")
    assert from_sale_page.status_code == 409 and "already voided" in html_of(from_sale_page)
    assert _counts() == before


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_void_needs_a_reason_beside_the_field(as_manager, world, reason):
    recent = world["recent"]
    before = _counts()
    response = _void(as_manager, world, recent, reason=reason)
    assert response.status_code == 422
    html = html_of(response)
    assert field_error(html, f"void-reason-{recent.id}") == "Give a reason."
    assert by_id(html, f"void-reason-{recent.id}").attrs["aria-invalid"] == "true"
    assert _counts() == before
    sale_page = as_manager.post(f"/manage/sales/{recent.id}/void", {"reason": reason, "back": "sale"},
                                token_from=f"/sales/{recent.id}")
    assert sale_page.status_code == 422
    assert field_error(html_of(sale_page), f"void-reason-{recent.id}") == "Give a reason."
    assert _counts() == before


def test_only_an_approved_sale_can_be_voided(as_manager, world, factory):
    pending = factory.sale(world["ann"], "100.00", TODAY, approve=False)
    before = _counts()
    response = _void(as_manager, world, pending)
    assert response.status_code == 409
    assert _counts() == before


def test_another_teams_sale_is_404_and_agents_are_refused(as_manager, as_agent, world):
    before = _counts()
    assert _void(as_manager, world, world["zed_sale"]).status_code == 404
    assert as_manager.post("/manage/sales/999999/void", {"reason": "x"}, token_from=_agent_page(world)
                           ).status_code == 404
    assert as_agent.post(f"/manage/sales/{world['recent'].id}/void", {"reason": "x"},
                         token_from="/dashboard").status_code == 403
    assert _counts() == before


def test_an_admin_may_void_any_sale(as_admin, world):
    response = as_admin.post(f"/manage/sales/{world['zed_sale'].id}/void", {"reason": "Refund", "back": "sale"},
                             token_from=f"/sales/{world['zed_sale'].id}")
    assert response.status_code == 302 and reload(world["zed_sale"]).status == "voided"


def test_the_sale_page_offers_the_void_form_only_to_managers_of_approved_sales(as_manager, world, app, factory):
    recent = world["recent"]
    html = html_of(as_manager.get(f"/sales/{recent.id}"))
    page = tags(html)
    form = next(t for t in page if t.name == "form" and t.attrs.get("action") == f"/manage/sales/{recent.id}/void")
    names = {t.attrs.get("name") for t in within(form, page, "input")}
    assert {"csrf_token", "reason", "back"} <= names
    assert any(t.attrs.get("for") == f"void-reason-{recent.id}" for t in tags(html, "label"))
    # The agent sees their sale without the form; a voided sale has none either.
    assert "/void" not in html_of(browser_as(app, world["ann"]).get(f"/sales/{recent.id}"))
    void_sale(world["manager"], recent, "Refund")
    db.session.commit()
    assert "/void" not in html_of(as_manager.get(f"/sales/{recent.id}"))


# --- manual adjustments -------------------------------------------------------------------------------

def _adjust(browser, world, amount, reason="Trade show bonus", name="ann"):
    """POST the adjustment form."""
    return browser.post(f"/manage/agents/{world[name].id}/adjustments",
                        {"adjustment-amount": amount, "adjustment-reason": reason}, token_from=_agent_page(world))


@pytest.mark.parametrize("amount, cents", [("-25.00", -2500), ("120.5", 12050), ("+0.01", 1)])
def test_a_manual_adjustment_is_posted_in_todays_period(as_manager, world, amount, cents):
    ann = world["ann"]
    before = _unpaid(ann)
    response = _adjust(as_manager, world, amount)
    assert response.status_code == 302 and redirect_path(response) == f"/manage/agents/{ann.id}#ledger"
    entry = db.session.scalars(select(CommissionEntry).where(CommissionEntry.agent_id == ann.id,
                                                             CommissionEntry.kind == EntryKind.MANUAL)).one()
    assert (entry.amount_cents, entry.reason, entry.period.start_date, entry.created_by_id) == (
        cents, "Trade show bonus", date(2026, 11, 16), world["manager"].id)
    assert _unpaid(ann) == before + cents
    _books_balance(ann)
    html = html_of(as_manager.get(_agent_page(world)))
    assert by_id(html, f"entry-{entry.id}") is not None and "Trade show bonus" in html


@pytest.mark.parametrize("amount, reason, field, says", [
    ("0", "Reason", "adjustment-amount", "other than zero"),
    ("-0.00", "Reason", "adjustment-amount", "other than zero"),
    ("", "Reason", "adjustment-amount", "Enter an amount"),
    ("abc", "Reason", "adjustment-amount", "plain number"),
    ("-1.234", "Reason", "adjustment-amount", "at most two decimals"),
    ("1e3", "Reason", "adjustment-amount", "plain number"),
    ("-100000000000", "Reason", "adjustment-amount", "too large"),
    ("25.00", "", "adjustment-reason", "Give a reason"),
    ("25.00", "   ", "adjustment-reason", "Give a reason"),
    ("25.00", "x" * 2001, "adjustment-reason", "under 2000"),
])
def test_bad_adjustments_are_refused_beside_the_field(as_manager, world, amount, reason, field, says):
    before = _counts()
    response = _adjust(as_manager, world, amount, reason)
    assert response.status_code == 422
    html = html_of(response)
    assert says in (field_error(html, field) or "")
    assert by_id(html, field).attrs["aria-invalid"] == "true"
    assert _counts() == before


def test_another_teams_agent_cannot_be_adjusted(as_manager, world):
    before = _counts()
    assert _adjust(as_manager, world, "10.00", name="zed").status_code == 404
    assert _counts() == before


# --- payouts ----------------------------------------------------------------------------------------

def _pay(browser, world, amount, paid_on=None, reference="Transfer 118", advance=False, name="ann"):
    """POST the payout form."""
    data = {"payout-amount": amount, "payout-paid_on": paid_on or TODAY.isoformat(),
            "payout-reference": reference}
    if advance:
        data["payout-advance"] = "y"
    return browser.post(f"/manage/agents/{world[name].id}/payouts", data, token_from=_agent_page(world))


def test_the_payout_form_is_dated_today(as_manager, world):
    html = html_of(as_manager.get(_agent_page(world)))
    assert by_id(html, "payout-paid_on").attrs["value"] == TODAY.isoformat()
    assert by_id(html, "payout-advance").attrs["type"] == "checkbox"


def test_a_payout_lowers_the_unpaid_balance(as_manager, world):
    ann = world["ann"]
    assert _unpaid(ann) == 36000
    response = _pay(as_manager, world, "100.00")
    assert response.status_code == 302 and redirect_path(response) == f"/manage/agents/{ann.id}#payouts"
    payout = db.session.scalars(select(Payout).where(Payout.agent_id == ann.id)).one()
    assert (payout.amount_cents, payout.paid_on, payout.reference, payout.advance) == (
        10000, TODAY, "Transfer 118", False)
    assert _unpaid(ann) == 26000
    assert ledger.period_summary(ann.id, period_for(TODAY)).payouts == 10000
    _books_balance(ann)
    html = html_of(as_manager.get(_agent_page(world)))
    assert by_id(html, f"payout-{payout.id}") is not None and "Payout of $100.00 to Ann Archer recorded." in html


def test_the_whole_balance_may_be_paid(as_manager, world):
    assert _pay(as_manager, world, "360.00").status_code == 302
    assert _unpaid(world["ann"]) == 0


@pytest.mark.parametrize("amount, paid_on, field, says", [
    ("0", None, "payout-amount", "greater than zero"),
    ("0.00", None, "payout-amount", "greater than zero"),
    ("-5.00", None, "payout-amount", "not negative"),
    ("10.005", None, "payout-amount", "at most two decimals"),
    ("", None, "payout-amount", "Enter an amount"),
    ("ten", None, "payout-amount", "plain number"),
    ("360.01", None, "payout-amount", "more than the unpaid balance ($360.00)"),
    ("10.00", "2026-11-10", "payout-paid_on", "closed period"),
    ("10.00", "2026-11-21", "payout-paid_on", "cannot be in the future"),
    ("10.00", "20/11/2026", "payout-paid_on", "YYYY-MM-DD"),
    ("10.00", "2026-11-20T10:00", "payout-paid_on", "YYYY-MM-DD"),
])
def test_bad_payouts_are_refused_beside_the_field(as_manager, world, amount, paid_on, field, says):
    before = _counts()
    response = _pay(as_manager, world, amount, paid_on=paid_on)
    assert response.status_code == 422
    html = html_of(response)
    assert says in (field_error(html, field) or ""), field_error(html, field)
    assert by_id(html, field).attrs["aria-invalid"] == "true"
    assert by_id(html, "payout-amount").attrs.get("value", "") == amount  # what was typed stays
    assert _counts() == before


def test_a_too_long_reference_is_refused(as_manager, world):
    before = _counts()
    response = _pay(as_manager, world, "10.00", reference="x" * 121)
    assert response.status_code == 422 and "under 120" in field_error(html_of(response), "payout-reference")
    assert _counts() == before


def test_an_advance_may_exceed_the_balance(as_manager, world):
    ann = world["ann"]
    response = _pay(as_manager, world, "500.00", advance=True)
    assert response.status_code == 302
    assert db.session.scalars(select(Payout).where(Payout.agent_id == ann.id)).one().advance is True
    assert _unpaid(ann) == 36000 - 50000
    _books_balance(ann)


def test_another_teams_agent_cannot_be_paid(as_manager, world):
    before = _counts()
    assert _pay(as_manager, world, "10.00", name="zed").status_code == 404
    assert _counts() == before


# --- reversals ------------------------------------------------------------------------------------

def _reverse(browser, world, payout, reason="Transfer bounced", back="agent"):
    """POST the reverse form."""
    return browser.post(f"/manage/payouts/{payout.id}/reverse", {"reason": reason, "back": back},
                        token_from=_agent_page(world))


def test_a_reversal_is_a_counter_entry_and_restores_the_balance(as_manager, world):
    ann = world["ann"]
    payout = record_payout(world["manager"], agent_id=ann.id, amount_cents=10000, paid_on=TODAY)
    db.session.commit()
    response = _reverse(as_manager, world, payout)
    assert response.status_code == 302 and redirect_path(response) == f"/manage/agents/{ann.id}#payouts"
    db.session.expire_all()
    rows = db.session.scalars(select(Payout).where(Payout.agent_id == ann.id).order_by(Payout.id)).all()
    assert [(p.id, p.amount_cents, p.reverses_id) for p in rows] == [
        (payout.id, 10000, None), (rows[1].id, -10000, payout.id)]
    assert "Transfer bounced" in rows[1].reference
    assert _unpaid(ann) == 36000
    _books_balance(ann)
    html = html_of(as_manager.get(_agent_page(world)))
    row = by_id(html, f"payout-{payout.id}")
    assert "Reversed" in text_of(row) and f"/manage/payouts/{payout.id}/reverse" not in html


def test_reversing_twice_or_reversing_a_reversal_is_a_conflict(as_manager, world):
    payout = record_payout(world["manager"], agent_id=world["ann"].id, amount_cents=10000, paid_on=TODAY)
    reversal = reverse_payout(world["manager"], payout, reason="Bounced")
    db.session.commit()
    before = _counts()
    again = _reverse(as_manager, world, payout)
    assert again.status_code == 409 and any("already been reversed" in f for f in flash_messages(html_of(again)))
    assert _reverse(as_manager, world, reversal).status_code == 409
    assert _counts() == before


def test_a_reversal_needs_a_reason(as_manager, world):
    payout = record_payout(world["manager"], agent_id=world["ann"].id, amount_cents=10000, paid_on=TODAY)
    db.session.commit()
    before = _counts()
    response = _reverse(as_manager, world, payout, reason=" ")
    assert response.status_code == 422
    assert field_error(html_of(response), f"reverse-reason-{payout.id}") == "Give a reason."
    from_list = _reverse(as_manager, world, payout, reason="", back="payouts")
    assert from_list.status_code == 422 and field_error(html_of(from_list), f"reverse-reason-{payout.id}")
    assert _counts() == before


def test_another_teams_payout_is_404(as_manager, world):
    theirs = record_payout(None, agent_id=world["zed"].id, amount_cents=1000, paid_on=TODAY)
    db.session.commit()
    before = _counts()
    assert _reverse(as_manager, world, theirs).status_code == 404
    assert as_manager.post("/manage/payouts/999999/reverse", {"reason": "x"},
                           token_from=_agent_page(world)).status_code == 404
    assert _counts() == before


def test_the_payouts_page_lists_the_team_and_reverses_back_to_it(as_manager, world):
    mine = record_payout(None, agent_id=world["ann"].id, amount_cents=1000, paid_on=TODAY, reference="Mine")
    theirs = record_payout(None, agent_id=world["zed"].id, amount_cents=2000, paid_on=TODAY, reference="Theirs")
    db.session.commit()
    html = html_of(as_manager.get("/manage/payouts"))
    assert by_id(html, f"payout-{mine.id}") is not None and by_id(html, f"payout-{theirs.id}") is None
    response = _reverse(as_manager, world, mine, back="payouts")
    assert response.status_code == 302 and redirect_path(response) == "/manage/payouts"


# --- pay all statements of a period ------------------------------------------------------------------

def _plan_rows(html: str) -> dict[str, str]:
    """Agent name -> the "to pay" cell of the confirmation page."""
    page = tags(html)
    rows = {}
    for row in (t for t in page if (t.attrs.get("id") or "").startswith("pay-row-")):
        inner = within(row, page)
        name = text_of(next(t for t in inner if t.name == "a"))
        rows[name] = text_of(next(t for t in inner if t.attrs.get("data-testid") == "to-pay"))
    return rows


def _confirm(browser, period: str | None = None) -> tuple[str, dict]:
    """Open the confirmation page; returns its HTML and the form's fields."""
    html = html_of(browser.get("/manage/payouts/pay-period" + (f"?period={period}" if period else "")))
    fields = {t.attrs["name"]: t.attrs.get("value") for t in tags(html, "input")
              if t.attrs.get("name") in ("period", "digest")}
    return html, fields


def _pay_all(browser, fields):
    """POST the confirmation form."""
    return browser.post("/manage/payouts/pay-period", fields, token_from="/manage/payouts")


def test_confirmation_lists_who_gets_what_before_anything_is_paid(as_manager, world):
    before = _counts()
    html, fields = _confirm(as_manager)
    assert f"Pay all statements of {NOV_1_15}" in html
    assert _plan_rows(html) == {"Ann Archer": "$300.00", "Ben Baker": "$150.00"}  # not Zed, another team
    assert "Pay 2 agents $450.00" in html
    assert fields["period"] == "2026-11-01" and len(fields["digest"]) == 32
    assert _counts() == before


def test_paying_all_statements_pays_each_closing_balance_once(as_manager, world):
    ann, ben = world["ann"], world["ben"]
    _, fields = _confirm(as_manager)
    response = _pay_all(as_manager, fields)
    assert response.status_code == 302 and redirect_path(response) == "/manage/payouts"
    db.session.expire_all()
    made = db.session.scalars(select(Payout).order_by(Payout.agent_id)).all()
    assert [(p.agent_id, p.amount_cents, p.paid_on, p.reference, p.advance) for p in made] == [
        (ann.id, 30000, TODAY, f"Period {NOV_1_15}", False), (ben.id, 15000, TODAY, f"Period {NOV_1_15}", False)]
    assert (_unpaid(ann), _unpaid(ben)) == (6000, 0)
    for agent in (ann, ben):
        _books_balance(agent)
    html = html_of(as_manager.get("/manage/payouts"))
    assert f"Paid 2 statements of {NOV_1_15}: $450.00." in flash_messages(html)

    # Twice pays nothing more: the same confirmation again, and a fresh look.
    before = _counts()
    again = _pay_all(as_manager, fields)
    assert again.status_code == 302
    assert _counts() == before
    assert f"Every statement of {NOV_1_15} is already paid; nothing was recorded." in flash_messages(
        html_of(as_manager.get("/manage/payouts")))
    html, fields = _confirm(as_manager)
    assert _plan_rows(html) == {"Ann Archer": "Nothing: already paid", "Ben Baker": "Nothing: already paid"}
    assert "digest" not in fields
    assert _counts() == before


def test_payouts_made_since_the_period_ended_count_toward_it(as_manager, world):
    record_payout(None, agent_id=world["ann"].id, amount_cents=10000, paid_on=TODAY)
    db.session.commit()
    html, fields = _confirm(as_manager)
    assert _plan_rows(html) == {"Ann Archer": "$200.00", "Ben Baker": "$150.00"}
    assert _pay_all(as_manager, fields).status_code == 302
    assert _unpaid(world["ann"]) == 6000


def test_the_run_never_pays_more_than_is_owed_now(as_manager, world):
    void_sale(world["manager"], world["stated"], "Refunded")  # clawback of 300 after the statement
    db.session.commit()
    html, fields = _confirm(as_manager)
    assert _plan_rows(html)["Ann Archer"] == "$60.00"  # statement says 300, but only 60 is owed now
    _pay_all(as_manager, fields)
    assert _unpaid(world["ann"]) == 0
    _books_balance(world["ann"])


def test_a_reversal_makes_the_amount_due_again(as_manager, world):
    _pay_all(as_manager, _confirm(as_manager)[1])
    paid = db.session.scalars(select(Payout).where(Payout.agent_id == world["ann"].id)).one()
    reverse_payout(world["manager"], paid, reason="Bounced")
    db.session.commit()
    assert _plan_rows(_confirm(as_manager)[0])["Ann Archer"] == "$300.00"


def test_paying_an_older_period_after_a_later_one_pays_nothing(as_manager, world, today):
    today(date(2026, 12, 2))
    close_period(None, period_for(date(2026, 11, 16)))
    db.session.commit()
    html, fields = _confirm(as_manager)
    assert "Nov 16–30, 2026" in html and _plan_rows(html) == {"Ann Archer": "$360.00", "Ben Baker": "$150.00"}
    _pay_all(as_manager, fields)
    before = _counts()
    html, fields = _confirm(as_manager, "2026-11-01")
    assert set(_plan_rows(html).values()) == {"Nothing: already paid"}
    assert _counts() == before


def test_the_teams_payment_balances_agree_with_each_agents_statement_and_balance(world, today):
    """payment_balances (one grouped pass over the team's entries, one over its payouts) gives what
    period_summary and agent_balance give agent by agent, through payouts before and after a
    period's end (Nov 16-30 closes after the payouts of the 20th), a reversal, a clawback and a later
    closed period."""
    ann, ben, zed = world["ann"], world["ben"], world["zed"]
    reversed_one = record_payout(None, agent_id=ben.id, amount_cents=2500, paid_on=TODAY)
    reverse_payout(None, reversed_one, reason="Bounced")
    record_payout(None, agent_id=ann.id, amount_cents=1234, paid_on=TODAY)
    void_sale(world["manager"], world["stated"], "Refunded")
    today(date(2026, 11, 30))
    record_payout(None, agent_id=ben.id, amount_cents=4321, paid_on=date(2026, 11, 30))  # on the period's last day
    today(date(2026, 12, 2))
    close_period(None, period_for(date(2026, 11, 16)))
    record_payout(None, agent_id=ben.id, amount_cents=999, paid_on=date(2026, 12, 2))
    db.session.commit()
    agents = [ann, ben, zed]
    for period in db.session.scalars(select(Period).where(Period.status == "closed")):
        found = balances.payment_balances([a.id for a in agents], period)
        for agent in agents:
            paid_since = sum(p.amount_cents for p in db.session.scalars(
                select(Payout).where(Payout.agent_id == agent.id, Payout.paid_on > period.end_date)))
            assert found[agent.id] == (ledger.period_summary(agent.id, period).closing, paid_since,
                                       ledger.agent_balance(agent.id).unpaid), (agent.name, period.label)
    # Not figures that happen to agree at zero: Ann's statement of Nov 1-15 closed at 300.00, 12.34
    # was paid since, and she is owed 300.00 + 60.00 - 300.00 (the clawback) - 12.34 now.
    assert balances.payment_balances([ann.id], period_for(date(2026, 11, 1)))[ann.id] == (30000, 1234, 4766)


def test_changed_amounts_since_confirmation_are_a_conflict(as_manager, world):
    _, fields = _confirm(as_manager)
    record_payout(None, agent_id=world["ann"].id, amount_cents=5000, paid_on=TODAY)
    db.session.commit()
    before = _counts()
    response = _pay_all(as_manager, fields)
    assert response.status_code == 409
    html = html_of(response)
    assert any("amounts changed" in f for f in flash_messages(html))
    assert _plan_rows(html)["Ann Archer"] == "$250.00"
    assert _counts() == before
    forged = _pay_all(as_manager, {**fields, "digest": "0" * 32})
    assert forged.status_code == 409 and _counts() == before


def test_an_open_period_cannot_be_paid_in_one_run(as_manager, world):
    before = _counts()
    response = as_manager.get("/manage/payouts/pay-period?period=2026-11-16")
    assert response.status_code == 422 and "still open" in field_error(html_of(response), "period")
    posted = _pay_all(as_manager, {"period": "2026-11-16", "digest": "x"})
    assert posted.status_code == 422 and "still open" in field_error(html_of(posted), "period")
    with pytest.raises(Exception) as info:
        money_service.pay_period(world["manager"], period_for(TODAY), None)
    assert getattr(info.value, "status", None) == 409
    assert _counts() == before


@pytest.mark.parametrize("value", ["junk", "2027-01-01"])
def test_a_bad_period_is_refused_beside_the_picker(as_manager, world, value):
    before = _counts()
    response = _pay_all(as_manager, {"period": value, "digest": "x"})
    assert response.status_code == 422 and field_error(html_of(response), "period")
    assert _counts() == before


def test_with_no_closed_period_there_is_nothing_to_pay(as_manager, today):
    today(TODAY)
    html = html_of(as_manager.get("/manage/payouts/pay-period"))
    assert "No period is closed yet" in html and "digest" not in html


def test_a_deactivated_agent_is_still_paid(as_manager, world):
    world["ben"].active = False
    db.session.commit()
    assert _plan_rows(_confirm(as_manager)[0])["Ben Baker"] == "$150.00"


def test_an_agent_in_advance_gets_nothing(as_manager, world):
    record_payout(None, agent_id=world["ben"].id, amount_cents=40000, paid_on=TODAY, advance=True)
    db.session.commit()
    assert _plan_rows(_confirm(as_manager)[0])["Ben Baker"] == "Nothing: already paid"


def test_pay_period_pages_are_for_managers(as_agent):
    assert as_agent.get("/manage/payouts/pay-period").status_code == 403
    assert as_agent.get("/manage/payouts").status_code == 403
