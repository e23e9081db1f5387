"""Plan document jobs: issue the missing documents, render a document's or an acknowledgement's PDF."""

from __future__ import annotations

from jobs import app_context


def issue_missing() -> int:
    """Issue every plan document not issued yet, a batch per commit; returns how many were issued."""
    from webapp.extensions import db
    from webapp.plandocs.services import issue_missing as issue

    issued = 0
    with app_context():
        while True:
            batch = issue()
            db.session.commit()  # each batch's emails and render jobs go after its commit
            issued += len(batch)
            if not batch:
                return issued


def render_document(document_id: int) -> str:
    """Render and store one plan document's PDF (no-op once rendered)."""
    from webapp.plandocs.rendering import render_document as render

    with app_context():
        return render(document_id)


def render_acknowledgement(acknowledgement_id: int) -> str:
    """Render and store an acknowledged document's PDF with its acknowledgement block (no-op once rendered)."""
    from webapp.plandocs.rendering import render_acknowledgement as render

    with app_context():
        return render(acknowledgement_id)
