"""The development outbox: kept messages, their text, HTML and attachments, and path safety."""

from __future__ import annotations

import pytest

from webapp.mail.backends import send_email
from webapp.mail.messages import Attachment, EmailMessage
from webapp.mail.outbox import OutboxBackend

PDF = b"%PDF-1.7\n% a tiny statement\n%%EOF\n"


@pytest.fixture
def sent(app, outbox):
    """A statement message with a PDF attachment and an HTML body, sent through the outbox."""
    with app.app_context():
        result = send_email(EmailMessage(
            to="agent@example.com",
            subject="Your statement for November",
            text="Hello,\nyour statement is attached.\n",
            html="<p style=\"color:red\">Hello</p><script>alert(1)</script>",
            attachments=(Attachment("statement-2026-11.pdf", "application/pdf", PDF),),
            metadata={"statement_id": "42"},
        ))
    assert result.accepted
    return result.provider_id


def test_sent_message_is_listed_with_its_attachment(as_admin, sent):
    html = as_admin.get("/admin/outbox").get_data(as_text=True)
    assert "Your statement for November" in html
    assert "agent@example.com" in html
    assert f"/admin/outbox/{sent}/attachments/statement-2026-11.pdf" in html


def test_message_page_shows_the_text(as_admin, sent):
    response = as_admin.get(f"/admin/outbox/{sent}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "your statement is attached." in html
    assert f"/admin/outbox/{sent}/html" in html


def test_attachment_downloads_with_its_content_type(as_admin, sent):
    response = as_admin.get(f"/admin/outbox/{sent}/attachments/statement-2026-11.pdf")
    assert response.status_code == 200
    assert response.content_type == "application/pdf"
    assert response.data == PDF
    assert "statement-2026-11.pdf" in response.headers["Content-Disposition"]


def test_html_body_is_served_in_a_sandbox(as_admin, sent):
    response = as_admin.get(f"/admin/outbox/{sent}/html")
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    csp = [part.strip() for part in response.headers["Content-Security-Policy"].split(";")]
    assert "sandbox" in csp
    assert "default-src 'none'" in csp
    assert not any(part.startswith("script-src") for part in csp)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "<script>alert(1)</script>" in response.get_data(as_text=True)  # kept, but cannot run


def test_message_without_html_has_no_html_page(app, as_admin, outbox):
    with app.app_context():
        message_id = send_email(EmailMessage(to="a@example.com", subject="Plain", text="just text")).provider_id
    assert as_admin.get(f"/admin/outbox/{message_id}").status_code == 200
    assert as_admin.get(f"/admin/outbox/{message_id}/html").status_code == 404


@pytest.mark.parametrize("path", [
    "/admin/outbox/..%2F..%2Fsecret_key",
    "/admin/outbox/..",
    "/admin/outbox/%2E%2E",
    "/admin/outbox/{id}/attachments/..%2Fmessage.json",
    "/admin/outbox/{id}/attachments/message.json",
    "/admin/outbox/{id}/attachments/..",
    "/admin/outbox/{id}/attachments/body.txt",
    "/admin/outbox/{id}/attachments/other.pdf",
    "/admin/outbox/{id}x",
    "/admin/outbox/{id}x/html",
    "/admin/outbox/{id}x/attachments/statement-2026-11.pdf",
    "/admin/outbox/20260101T000000000000-000000000000",
])
def test_path_traversal_and_unknown_names_are_404(as_admin, sent, path):
    assert as_admin.get(path.format(id=sent)).status_code == 404


@pytest.mark.parametrize("message_id", [
    "../outbox",
    "{id}/../{id}",
    "../{id}",
    "..",
    "{id}x",
    "../../secret_key",
    "20260101T000000000000-000000000000",
])
def test_backend_refuses_message_ids_it_did_not_make(outbox, sent, message_id):
    message_id = message_id.format(id=sent)
    assert outbox.get(message_id) is None
    assert outbox.html(message_id) is None
    assert outbox.attachment(message_id, "statement-2026-11.pdf") is None


@pytest.mark.parametrize("filename", [
    "../message.json",
    "../../secret_key",
    "/etc/passwd",
    "message.json",
    "..",
    "other.pdf",
])
def test_backend_refuses_attachment_names_that_leave_the_message_folder(outbox, sent, filename):
    # The message and its real attachment are there: only the name is refused.
    assert outbox.get(sent) is not None
    assert outbox.attachment(sent, "statement-2026-11.pdf") == (PDF, "application/pdf")
    assert outbox.attachment(sent, filename) is None


def test_attachment_names_are_made_safe_when_stored(tmp_path):
    backend = OutboxBackend(tmp_path / "outbox")
    message_id = backend.send(EmailMessage(
        to="a@example.com", subject="s", text="t",
        attachments=(Attachment("../../evil.pdf", "application/pdf", PDF),))).provider_id
    [stored] = backend.get(message_id).attachments
    assert "/" not in stored["filename"] and ".." not in stored["filename"]
    assert backend.attachment(message_id, stored["filename"]) == (PDF, "application/pdf")
    assert not (tmp_path / "evil.pdf").exists()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all((tmp_path / "outbox" / message_id) in p.parents for p in written)


def test_outbox_pages_are_for_admins_only(as_manager, sent):
    assert as_manager.get(f"/admin/outbox/{sent}").status_code == 403
    assert as_manager.get(f"/admin/outbox/{sent}/attachments/statement-2026-11.pdf").status_code == 403
    assert as_manager.get(f"/admin/outbox/{sent}/html").status_code == 403
