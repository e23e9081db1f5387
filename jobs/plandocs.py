"""Plan document jobs: issue the missing documents, render a document's or an acknowledgement's PDF,
the periodic sweep and the daily reminders."""

from __future__ import annotations

from jobs import app_context


# Batches of documents the sweep issues per tick at most (it runs on the periodic queue, whose jobs
# must finish within minutes); what is left is issued by the next tick.
SWEEP_ISSUE_BATCHES = 4


def _issue_batches(most: int | None = None) -> int:
    """Issue missing documents a batch per commit, at most `most` batches (None: all); how many."""
    from webapp.extensions import db
    from webapp.plandocs.services import issue_missing as issue

    issued, batches = 0, 0
    while most is None or batches < most:
        batch = issue()
        db.session.commit()  # each batch's emails and render jobs go after its commit
        issued, batches = issued + len(batch), batches + 1
        if not batch:
            break
    return issued


def issue_missing() -> int:
    """Issue every plan document not issued yet, a batch per commit; returns how many were issued."""
    with app_context():
        return _issue_batches()


def sweep() -> dict:
    """The clock's plan-document tick: issue what is missing (a few batches), then queue the renders
    of documents and acknowledgements whose PDF is pending or failed (their job may be lost)."""
    from webapp.plandocs.sweep import enqueue_renders

    with app_context():
        issued = _issue_batches(SWEEP_ISSUE_BATCHES)
        return {"issued": issued, **enqueue_renders().as_dict()}


def send_reminders() -> dict:
    """Queue today's plan document reminders, a batch per commit (their emails go after each commit)."""
    from webapp.extensions import db
    from webapp.plandocs.reminders import BATCH
    from webapp.plandocs.reminders import send_reminders as send

    result = {"off": False, "queued": 0, "skipped": 0}
    with app_context():
        after = 0
        while True:
            summary = send(after_id=after, limit=BATCH)
            db.session.commit()
            result["off"] = summary.off
            result["queued"] += len(summary.queued)
            result["skipped"] += len(summary.skipped)
            if summary.off or summary.seen < BATCH:
                return result
            after = summary.last_id


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
