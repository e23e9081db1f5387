"""The statement PDF as the attachment of its email (mail knows nothing of statements).

create_app registers it, so the web app and the worker (which makes its app the same way) both
attach it.
"""

from __future__ import annotations

from flask import Flask

from webapp.extensions import db
from webapp.mail.attachments import AttachmentSource, register_attachment_source
from webapp.mail.messages import Attachment
from webapp.mail.models import OutgoingEmail
from webapp.statements.models import Statement, StatementStatus
from webapp.statements.services import statement_pdf


def init_app(app: Flask) -> None:
    """Attach each statement email's PDF, and hold the email back until the PDF is rendered."""
    register_attachment_source(app, AttachmentSource(ready=pdf_ready, files=statement_files))


def pdf_ready(email: OutgoingEmail) -> bool:
    """A statement email waits until its statement is rendered (the render job enqueues it)."""
    if email.statement_id is None:
        return True
    return db.session.get(Statement, email.statement_id).status == StatementStatus.RENDERED


def statement_files(email: OutgoingEmail) -> tuple[Attachment, ...]:
    """The statement's stored PDF, for a statement email; nothing for any other email."""
    if email.statement_id is None:
        return ()
    statement = db.session.get(Statement, email.statement_id)
    return (Attachment(f"statement-{statement.number}.pdf", "application/pdf", statement_pdf(statement)),)
