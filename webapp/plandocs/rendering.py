"""Rendering plan document PDFs (the worker's jobs only: it loads WeasyPrint through statements/pdf.py).

Both PDFs print the document's stored HTML unchanged, so what the agent read in the portal, the
issued PDF and the acknowledged PDF say the same words; the acknowledged one adds a block with the
typed name, the time and the document's number and SHA-256.
"""

from __future__ import annotations

import hashlib

from flask import render_template
from sqlalchemy import select

from webapp import clock
from webapp.extensions import db
from webapp.plandocs.models import PlanAcknowledgement, PlanDocument, RenderStatus
from webapp.statements import pdf


def document_print_html(document: PlanDocument, acknowledgement: PlanAcknowledgement | None = None) -> str:
    """The print page around the stored body (with the acknowledgement block when given)."""
    return render_template("pdf/plan_document.html", document=document, c=document.content,
                           acknowledgement=acknowledgement)


def _store(row, html: str) -> str:
    """Render `html` into `row` (a document or an acknowledgement); a failure is stored and re-raised."""
    try:
        data = pdf.html_to_pdf(html)
    except Exception as exc:
        row.status, row.render_error = RenderStatus.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
        db.session.commit()
        raise
    row.pdf, row.pdf_sha256 = data, hashlib.sha256(data).hexdigest()
    row.status, row.render_error, row.rendered_at = RenderStatus.RENDERED, None, clock.now_utc()
    db.session.commit()
    return RenderStatus.RENDERED


def render_document(document_id: int) -> str:
    """Render a document's PDF and store it with its sha256; no-op once rendered."""
    document = db.session.scalar(select(PlanDocument).where(PlanDocument.id == document_id).with_for_update())
    if document is None or document.status == RenderStatus.RENDERED:
        db.session.rollback()
        return "missing" if document is None else RenderStatus.RENDERED
    return _store(document, document_print_html(document))


def render_acknowledgement(acknowledgement_id: int) -> str:
    """Render the acknowledged PDF (document + acknowledgement block) and store it; no-op once rendered."""
    acknowledgement = db.session.scalar(select(PlanAcknowledgement).where(
        PlanAcknowledgement.id == acknowledgement_id).with_for_update())
    if acknowledgement is None or acknowledgement.status == RenderStatus.RENDERED:
        db.session.rollback()
        return "missing" if acknowledgement is None else RenderStatus.RENDERED
    return _store(acknowledgement, document_print_html(acknowledgement.document, acknowledgement))
