"""The plan document PDFs as the agent downloads them: rendered by the worker's functions with real
WeasyPrint, 404 until then, exactly the stored bytes after, and the acknowledged one carrying the
typed name, the time and the document's hash. Downloads are audited."""

from __future__ import annotations

import hashlib
import io
from datetime import date, datetime, timezone

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from tests.conftest import browser_as
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role
from webapp.extensions import db
from webapp.plandocs.acknowledgements import acknowledge
from webapp.plandocs.rendering import render_acknowledgement, render_document
from webapp.plandocs.services import issue_missing

pytestmark = pytest.mark.usefixtures("empty_queues")  # render jobs enqueued here are not left behind


def _text(data: bytes) -> str:
    """The PDF's text with all whitespace removed (a long hash wraps across lines)."""
    return "".join("".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


@pytest.fixture
def document(app, factory, today):
    """Alice Adams's pending document, and a browser signed in as her."""
    today(date(2026, 12, 5))
    alice = factory.user(Role.AGENT, name="Alice Adams")
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1), name="Field sales 2026")
    factory.assign(alice, plan, effective_from=date(2026, 12, 1))
    [doc] = issue_missing()
    doc.browser = browser_as(app, alice)
    return doc


def _downloads() -> list[dict]:
    """The audited downloads' details."""
    db.session.expire_all()
    return [e.after for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "plan_document.download")
                                                .order_by(AuditEvent.id))]


def test_the_issued_pdf_is_404_until_rendered_then_the_stored_bytes(document):
    browser = document.browser
    assert browser.get(f"/plan-documents/{document.id}/pdf").status_code == 404
    assert render_document(document.id) == "rendered"
    response = browser.get(f"/plan-documents/{document.id}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert hashlib.sha256(response.data).hexdigest() == document.pdf_sha256 == response.headers["X-Content-SHA256"]
    assert f"plan-document-{document.number}.pdf" in response.headers["Content-Disposition"]
    text = _text(response.data)
    assert "Commissionplan:Fieldsales2026" in text and "3%" in text and document.sha256 in text
    assert _downloads() == [{"number": document.number, "pdf": "issued", "pdf_sha256": document.pdf_sha256}]
    page = browser.get(f"/plan-documents/{document.id}").get_data(as_text=True)
    assert f'href="/plan-documents/{document.id}/pdf"' in page


def test_a_stored_pdf_that_does_not_match_its_hash_is_not_served(document):
    render_document(document.id)
    document.pdf = document.pdf + b"tampered"
    db.session.flush()
    assert document.browser.get(f"/plan-documents/{document.id}/pdf").status_code == 404


def test_the_acknowledged_pdf_carries_the_name_time_and_hash(document, at):
    at(datetime(2026, 12, 5, 14, 30, 12, tzinfo=timezone.utc))
    browser, url = document.browser, f"/plan-documents/{document.id}/acknowledged.pdf"
    assert browser.get(url).status_code == 404  # not acknowledged
    ack = acknowledge(document.agent, document, "alice adams", "203.0.113.7", "Test browser")
    db.session.commit()
    assert browser.get(url).status_code == 404  # acknowledged, not rendered yet
    assert render_acknowledgement(ack.id) == "rendered"
    response = browser.get(url)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert hashlib.sha256(response.data).hexdigest() == ack.pdf_sha256
    text = _text(response.data)
    # The acknowledgement block (its labels float beside the values, so pypdf reads them apart).
    assert "Acknowledgement" in text and "aliceadams(typedbythesigned-inaccountofAliceAdams" in text
    assert "2026-12-0514:30:12UTC" in text
    assert document.sha256 in text and f"No.{document.number}" in text and "203.0.113.7" in text
    assert _downloads()[-1]["pdf"] == "acknowledged"
    page = browser.get(f"/plan-documents/{document.id}").get_data(as_text=True)
    assert f'href="{url}"' in page
