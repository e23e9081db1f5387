"""Statements: figures from the ledger, gap-free numbers, issued once, PDF stored and emailed once."""

import hashlib
import io
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from webapp.commissions.ledger import period_summary
from webapp.commissions.payouts import record_payout
from webapp.commissions.periods import period_for
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.mail.services import deliver_email
from webapp.sales.services import void_sale
from webapp.statements.models import Statement, StatementRun
from webapp.statements.rendering import render_statement
from webapp.statements.services import (start_adhoc_run, start_period_run, statement_pdf)


def d(day: int, month: int = 11) -> date:
    return date(2026, month, day)


@pytest.fixture
def team(build, factory):
    """Two agents on 3% with November sales; the first half of November has ended."""
    build.on(d(10))
    manager, (alice, bob) = build.team(None, "Alice Chen", "Bob Martin")
    product = factory.product(name="Patient monitor", sku="MED-100")
    sales = [factory.sale(alice, "1000.00", d(3), product=product), factory.sale(alice, "2500.50", d(9), product=product),
             factory.sale(bob, "400.00", d(5), product=product)]
    record_payout(manager, agent_id=alice.id, amount_cents=5000, paid_on=d(10), reference="Bank transfer 1")
    build.on(d(17))
    return {"manager": manager, "alice": alice, "bob": bob, "sales": sales}


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_period_run_closes_the_period_and_issues_one_statement_per_agent(team):
    period = period_for(d(1))
    run = start_period_run(None, period)
    assert period.status == "closed"
    by_agent = {s.agent_id: s for s in run.statements}
    assert set(by_agent) == {team["alice"].id, team["bob"].id}
    numbers = sorted(s.number for s in run.statements)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "numbers must have no gaps"
    for agent in (team["alice"], team["bob"]):
        totals = by_agent[agent.id].snapshot["totals"]
        ledger = period_summary(agent.id, period)
        assert (totals["volume"], totals["earned"], totals["adjustments"], totals["opening"], totals["payouts"],
                totals["closing"]) == (ledger.volume, ledger.earned, ledger.adjustments, ledger.opening,
                                       ledger.payouts, ledger.closing)
        assert totals["closing"] == totals["opening"] + totals["total"] - totals["payouts"]
    alice = by_agent[team["alice"].id].snapshot
    assert [line["commission_cents"] for line in alice["lines"]] == [3000, 7502]
    assert alice["totals"]["payouts"] == 5000 and alice["totals"]["closing"] == 3000 + 7502 - 5000


def test_a_period_is_issued_once(team):
    period = period_for(d(1))
    first = start_period_run(None, period)
    again = start_period_run(None, period)
    assert again.id == first.id
    assert db.session.scalar(select(func.count()).select_from(Statement)) == 2
    assert db.session.scalar(select(func.count()).select_from(StatementRun)) == 1


def test_corrections_after_issue_appear_on_the_next_statement(team, today):
    first_half = period_for(d(1))
    run = start_period_run(None, first_half)
    issued = {s.agent_id: dict(s.snapshot["totals"]) for s in run.statements}
    today(d(20))
    void_sale(team["manager"], team["sales"][0], "refunded")
    for statement in run.statements:
        assert statement.snapshot["totals"] == issued[statement.agent_id], "an issued statement changed"
    today(date(2026, 12, 2))
    second = start_period_run(None, period_for(d(16)))
    alice = next(s for s in second.statements if s.agent_id == team["alice"].id).snapshot
    assert [a["amount_cents"] for a in alice["adjustments"]] == [-3000]
    assert alice["totals"]["opening"] == issued[team["alice"].id]["closing"]


def test_adhoc_statement_closes_nothing_and_is_marked(team):
    run = start_adhoc_run(team["manager"], agent_ids=[team["alice"].id], start=d(1), end=d(17),
                          message="Quarterly check")
    [statement] = run.statements
    assert statement.kind == "adhoc" and statement.snapshot["message"] == "Quarterly check"
    assert period_for(d(1)).status == "open"
    assert statement.snapshot["totals"]["earned"] == 3000 + 7502


def test_pdf_is_stored_with_its_sha256_and_shows_the_figures(team):
    run = start_period_run(None, period_for(d(1)))
    statement = next(s for s in run.statements if s.agent_id == team["alice"].id)
    db.session.commit()
    assert render_statement(statement.id) == "rendered"
    assert render_statement(statement.id) == "rendered"  # a duplicate job does nothing more
    data = statement_pdf(statement)
    assert data.startswith(b"%PDF") and statement.pdf_sha256 == hashlib.sha256(data).hexdigest()
    text = _pdf_text(data)
    for expected in ("Alice Chen", "Nov 1–15, 2026", f"Statement No. {statement.number}", "Patient monitor",
                     "$1,000.00", "$2,500.50", "$30.00", "$75.02", "$50.00", "$55.02", "Page 1 of 1"):
        assert expected in text, expected


def test_statement_email_waits_for_the_pdf_then_goes_once_with_it(team, outbox):
    run = start_period_run(None, period_for(d(1)))
    statement = next(s for s in run.statements if s.agent_id == team["alice"].id)
    db.session.commit()
    email = db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.statement_id == statement.id))
    assert deliver_email(email.id) == "waiting" and outbox.list() == []
    render_statement(statement.id)
    assert deliver_email(email.id) == "sent"
    assert deliver_email(email.id) == "sent"
    [message] = outbox.list()
    assert message.to == team["alice"].email
    [attachment] = message.attachments
    data, content_type = outbox.attachment(message.id, attachment["filename"])
    assert content_type == "application/pdf" and data == statement_pdf(statement)


def test_the_pdf_fetcher_refuses_files_and_network(app):
    from weasyprint.urls import FatalURLFetchingError

    from webapp.statements.pdf import html_to_pdf

    for url in ("file:///etc/passwd", "http://127.0.0.1:9/logo.png", "app-static:/../webapp/config.py"):
        with pytest.raises(FatalURLFetchingError):
            html_to_pdf(f'<html><body><img src="{url}"></body></html>', fail_on_errors=True)
    assert html_to_pdf('<link rel="stylesheet" href="app-static:/css/statement-print.css"><p>ok</p>').startswith(b"%PDF")


def test_a_run_mailed_through_mailchimp_sends_each_agent_one_message_with_a_valid_pdf(
        team, mailchimp_backend, mailchimp_stub):
    from webapp.mail.services import pending_email_ids

    run = start_period_run(None, period_for(d(1)))
    db.session.commit()
    for statement in run.statements:
        render_statement(statement.id)
    for _ in range(2):  # a duplicate sweep must not send anything twice
        for email_id in pending_email_ids() + [e.id for e in db.session.scalars(select(OutgoingEmail))]:
            deliver_email(email_id)
    received = {}
    for message in mailchimp_stub.messages:
        received.setdefault(message.to, []).append(message)
    assert set(received) == {team["alice"].email, team["bob"].email}
    for statement in run.statements:
        [message] = received[statement.agent.email]
        [attachment] = message.attachments
        assert attachment.type == "application/pdf" and attachment.name == f"statement-{statement.number}.pdf"
        assert attachment.data == statement_pdf(statement)
        assert statement.agent.name in _pdf_text(attachment.data)
        assert message.metadata["statement_id"] == str(statement.id)
