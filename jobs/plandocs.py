"""Plan document jobs: issue the missing documents, render a document's or an acknowledgement's PDF,
the periodic sweep and the daily reminders."""

from __future__ import annotations

from jobs import app_context


# Batches of documents the sweep issues per tick at most (it runs on the periodic queue, whose jobs
# must finish within minutes); what is left is issued by the next tick.
SWEEP_ISSUE_BATCHES = 4
# Batches one run of the issue job issues before a fresh run takes over: it shares the periodic
# queue's few-minute limit, and a plan change for thousands of agents must not hit it.
JOB_ISSUE_BATCHES = 10


def _issue_batches(most: int | None = None) -> int:
    """Issue missing documents a batch per commit, at most `most` batches (None: all); how many."""
    from webapp.extensions import db
    from webapp.plandocs import services

    issued, batches = 0, 0
    while most is None or batches < most:
        batch = services.issue_missing(limit=services.ISSUE_BATCH)
        db.session.commit()  # each batch's emails and render jobs go after its commit
        issued, batches = issued + len(batch), batches + 1
        if not batch:
            break
    return issued


def issue_missing() -> int:
    """Issue the plan documents not issued yet, a batch per commit; when it stops at its limit with
    more waiting, it queues a fresh run to go on. Returns how many this run issued."""
    from webapp.extensions import redis_client
    from webapp.plandocs.services import ISSUE_BATCH
    from webapp.tasks import enqueue

    with app_context():
        issued = _issue_batches(JOB_ISSUE_BATCHES)
        if issued >= JOB_ISSUE_BATCHES * ISSUE_BATCH:
            enqueue("periodic", "jobs.plandocs.issue_missing", connection=redis_client())
        return issued


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
