"""Rendering a statement's PDF (the render job's work).

Imported by the worker's jobs only: it loads WeasyPrint (statements/pdf.py), which the web
process never needs. It calls `pdf.html_to_pdf` through the module, so a test can replace it.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from webapp import clock
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.audit.services import record
from webapp.statements import pdf
from webapp.statements.models import Statement, StatementStatus
from webapp.statements.services import statement_html
from webapp.tasks import enqueue_after_commit


def render_statement(statement_id: int) -> str:
    """Render a pending statement to PDF and store it with its sha256; no-op once rendered."""
    statement = db.session.scalar(select(Statement).where(Statement.id == statement_id).with_for_update())
    if statement is None:
        db.session.rollback()
        return "missing"
    if statement.status == StatementStatus.RENDERED:
        db.session.rollback()
        return StatementStatus.RENDERED
    try:
        data = pdf.html_to_pdf(statement_html(statement, for_pdf=True))
    except Exception as exc:
        statement.status = StatementStatus.FAILED
        statement.render_error = f"{type(exc).__name__}: {exc}"[:2000]
        db.session.commit()
        raise
    statement.pdf, statement.pdf_sha256 = data, hashlib.sha256(data).hexdigest()
    statement.status, statement.render_error, statement.rendered_at = (
        StatementStatus.RENDERED, None, clock.now_utc())
    # By the system: issued means its PDF exists (the event integrations are sent).
    record(None, "statement.issue", statement, None, {"agent_id": statement.agent_id, "number": statement.number,
                                                      "period_id": statement.period_id})
    email_id = db.session.scalar(select(OutgoingEmail.id).where(OutgoingEmail.statement_id == statement.id))
    if email_id is not None:
        enqueue_after_commit("emails", "jobs.mail.deliver_email", email_id)
    db.session.commit()
    return StatementStatus.RENDERED
