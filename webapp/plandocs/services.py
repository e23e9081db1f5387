"""Issuing plan documents, and reading where each one stands.

Every plan version an agent is on (under an assignment, on days not yet over) gets one document,
issued once: the set of missing documents is found by one query, so a new version, a new
assignment, an edited version (a new revision) and a lost job are all caught up the same way, by
`issue_missing` (run by a job after the commit, and by the periodic sweep).

A document is numbered from a gap-free counter, its HTML is rendered once and hashed (SHA-256 of
its UTF-8 bytes), its PDF is rendered by a worker job, and the agent is emailed a link. Services
flush; the caller commits.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from flask import current_app, render_template
from sqlalchemy import and_, case, exists, func, literal, or_, select, update
from sqlalchemy.orm import aliased, selectinload

from webapp import clock, hot_cache
from webapp.audit.services import record
from webapp.auth.models import User
from webapp.commissions.models import PlanAssignment, PlanOverride, PlanVersion, Settings
from webapp.commissions.periods import get_settings
from webapp.disputes.models import Dispute, DisputeStatus
from webapp.extensions import db
from webapp.mail.services import queue_email
from webapp.plandocs.content import Issue, build_content
from webapp.plandocs.models import DocumentState, PlanAcknowledgement, PlanDocument, RenderStatus
from webapp.tasks import enqueue_after_commit

ISSUE_BATCH = 500
_DAY_AFTER_EVERYTHING = date(9999, 12, 31)
_ONE_DAY = timedelta(days=1)


# ---- Which documents are missing -----------------------------------------------------------------


def _next_version_from():
    """A correlated subquery: the effective date of the plan's next version (NULL: none)."""
    later = aliased(PlanVersion)
    return (select(func.min(later.effective_from))
            .where(later.plan_id == PlanVersion.plan_id, later.effective_from > PlanVersion.effective_from)
            .scalar_subquery())


def missing_query(today: date):
    """(assignment id, version id, next version's date) of every document not issued yet.

    A pair is due when the version's days and the assignment's days overlap on a day that is not
    over (today or later) and no document of the version's current revision exists for it. Past
    pairs are never issued: a plan that ended before this feature is not sent to anyone."""
    next_from = _next_version_from()
    assignment_end = func.coalesce(PlanAssignment.effective_to, literal(_DAY_AFTER_EVERYTHING))
    issued = exists().where(PlanDocument.assignment_id == PlanAssignment.id,
                            PlanDocument.version_id == PlanVersion.id,
                            PlanDocument.revision == PlanVersion.document_revision)
    return (select(PlanAssignment.id, PlanVersion.id, next_from)
            .join(PlanVersion, PlanVersion.plan_id == PlanAssignment.plan_id)
            .join(User, User.id == PlanAssignment.agent_id)
            .where(User.active.is_(True),
                   PlanVersion.effective_from <= assignment_end,
                   or_(next_from.is_(None), next_from > PlanAssignment.effective_from),
                   assignment_end >= today,
                   or_(next_from.is_(None), next_from > today),
                   ~issued)
            .order_by(PlanVersion.id, PlanAssignment.agent_id))


def _issues(rows) -> list[Issue]:
    """The rows of missing_query as Issues (their records loaded in three queries)."""
    assignments = {a.id: a for a in db.session.scalars(
        select(PlanAssignment).where(PlanAssignment.id.in_({row[0] for row in rows}))
        .options(selectinload(PlanAssignment.agent).selectinload(User.manager)))}
    versions = {v.id: v for v in db.session.scalars(
        select(PlanVersion).where(PlanVersion.id.in_({row[1] for row in rows}))
        .options(selectinload(PlanVersion.tiers),
                 selectinload(PlanVersion.overrides).selectinload(PlanOverride.category),
                 selectinload(PlanVersion.overrides).selectinload(PlanOverride.product),
                 selectinload(PlanVersion.plan))
        # A version edited earlier in this session: read its current revision, not the cached one.
        .execution_options(populate_existing=True))}
    found = []
    for assignment_id, version_id, next_from in rows:
        assignment, version = assignments[assignment_id], versions[version_id]
        # The document governs the days both cover: up to the assignment's end or the day
        # before the plan's next version, whichever comes first.
        end = assignment.effective_to
        if next_from is not None:
            end = min(end or next_from, next_from - _ONE_DAY)
        found.append(Issue(assignment, version, max(assignment.effective_from, version.effective_from), end))
    return found


# ---- Issuing --------------------------------------------------------------------------------------


def _take_numbers(count: int) -> range:
    """Reserve `count` consecutive document numbers (one row-locked increment: no gaps, no repeats)."""
    last = db.session.execute(
        update(Settings).where(Settings.id == 1)
        .values(last_plan_document_number=Settings.last_plan_document_number + count)
        .returning(Settings.last_plan_document_number)
        .execution_options(**{hot_cache.UNAFFECTED: True})).scalar_one()  # no cached value reads the counter
    return range(last - count + 1, last + 1)


def body_html(content: dict, number: int, issued_on: date) -> str:
    """The document as the agent reads it (rendered once, at issue; hashed and stored)."""
    return render_template("plandocs/_document.html", c=content, number=number, issued_on=issued_on)


def sha256_of(html: str) -> str:
    """The document hash: SHA-256 of the stored HTML's UTF-8 bytes."""
    return hashlib.sha256(html.encode("utf-8")).hexdigest()


def _document_link(document: PlanDocument) -> str:
    """The portal address of a document (absolute when BASE_URL is set)."""
    return f"{current_app.config.get('BASE_URL') or ''}/plan-documents/{document.id}"


def _email(document: PlanDocument, agent: User) -> None:
    """Queue the "please read and acknowledge" email (keyed: a retried issue queues it once)."""
    context = {"document": document, "c": document.content, "agent": agent, "link": _document_link(document)}
    queue_email(key=f"plan-document:{document.id}", to=agent.email,
                subject=f"Your commission plan: {document.content['plan']['name']} "
                        f"(document No. {document.number}), please read and acknowledge",
                text=render_template("email/plan_document.txt", **context),
                html=render_template("email/plan_document.html", **context),
                meta={"kind": "plan_document", "plan_document_id": str(document.id)})


def _supersede_older(document: PlanDocument, now: datetime) -> None:
    """Earlier revisions of the same assignment and version are replaced by this one."""
    db.session.execute(
        update(PlanDocument)
        .where(PlanDocument.assignment_id == document.assignment_id, PlanDocument.version_id == document.version_id,
               PlanDocument.revision < document.revision, PlanDocument.superseded_at.is_(None))
        .values(superseded_at=now))


def issue(issues: list[Issue], actor=None) -> list[PlanDocument]:
    """Issue one document per Issue: number, content, HTML and hash, its email and render job."""
    if not issues:
        return []
    settings, today, now = get_settings(), clock.today(), clock.now_utc()
    documents = []
    for number, item in zip(_take_numbers(len(issues)), issues, strict=True):
        agent = item.assignment.agent
        content = build_content(item, agent, settings, today)
        html = body_html(content, number, today)
        document = PlanDocument(number=number, agent_id=agent.id, assignment_id=item.assignment.id,
                                plan_id=item.version.plan_id, version_id=item.version.id,
                                revision=item.version.document_revision, effective_from=item.start,
                                effective_to=item.end, content=content, body_html=html, sha256=sha256_of(html),
                                status=RenderStatus.PENDING, created_at=now)
        db.session.add(document)
        documents.append(document)
    db.session.flush()
    for document, item in zip(documents, issues, strict=True):
        _supersede_older(document, now)
        _email(document, item.assignment.agent)
        record(actor, "plan_document.issue", document, None,
               {"number": document.number, "sha256": document.sha256, "agent_id": document.agent_id,
                "version_id": document.version_id, "assignment_id": document.assignment_id,
                "revision": document.revision})
        enqueue_after_commit("default", "jobs.plandocs.render_document", document.id)
    return documents


def issue_missing(actor=None, *, limit: int = ISSUE_BATCH) -> list[PlanDocument]:
    """Issue up to `limit` of the documents not issued yet (the caller commits, then calls again)."""
    # Issuers queue on the settings row (the number counter) before looking: a second run (the
    # job and the sweep at once) then sees the first one's documents instead of issuing them again.
    db.session.execute(select(Settings.id).where(Settings.id == 1).with_for_update())
    rows = db.session.execute(missing_query(clock.today()).limit(limit)).all()
    return issue(_issues(rows), actor)


# ---- Where documents stand ------------------------------------------------------------------------


def state_expression():
    """A SQL expression giving a document's DocumentState (acknowledged wins over everything)."""
    acknowledged = exists().where(PlanAcknowledgement.document_id == PlanDocument.id)
    questioned = exists().where(Dispute.plan_document_id == PlanDocument.id, Dispute.status == DisputeStatus.OPEN)
    return case((acknowledged, literal(DocumentState.ACKNOWLEDGED.value)),
                (PlanDocument.superseded_at.is_not(None), literal(DocumentState.SUPERSEDED.value)),
                (questioned, literal(DocumentState.QUESTIONED.value)),
                else_=literal(DocumentState.PENDING.value))


def state_of(document: PlanDocument) -> DocumentState:
    """One document's state."""
    return DocumentState(db.session.scalar(select(state_expression()).where(PlanDocument.id == document.id)))


def awaiting_count(agent_id: int) -> int:
    """How many of the agent's documents wait for them (pending: not acknowledged, superseded or questioned)."""
    return db.session.scalar(
        select(func.count()).select_from(PlanDocument)
        .where(PlanDocument.agent_id == agent_id, and_(state_expression() == DocumentState.PENDING.value)))
