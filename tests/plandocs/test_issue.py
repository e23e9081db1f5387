"""Issuing plan documents: one per (assignment, version, revision) on days not over, numbered, hashed."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from webapp.commissions.plan_versions import add_version, edit_version
from webapp.commissions.plans import rules_of
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.plandocs.models import DocumentState, ImmutableRecord, PlanDocument
from webapp.plandocs.services import issue_missing, state_of


def test_a_new_assignment_gets_one_numbered_hashed_document(factory, today):
    today(date(2026, 12, 5))
    agent = factory.user()
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1))
    factory.assign(agent, plan, effective_from=date(2026, 12, 1))
    [document] = issue_missing()
    assert document.agent_id == agent.id and document.effective_from == date(2026, 12, 1)
    assert document.effective_to is None
    assert document.sha256 == hashlib.sha256(document.body_html.encode()).hexdigest()
    assert f"Document No.</dt><dd>{document.number}" in document.body_html.replace("\n", "")
    assert "3%" in document.body_html
    assert issue_missing() == []  # issued once
    email = db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.key == f"plan-document:{document.id}"))
    assert email.to == agent.email and f"No. {document.number}" in email.subject
    assert state_of(document) == DocumentState.PENDING


def test_past_pairs_are_not_issued_and_a_new_version_is(factory, today):
    today(date(2026, 12, 5))
    agent = factory.user()
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1))
    factory.assign(agent, plan, effective_from=date(2026, 1, 1), effective_to=date(2026, 6, 30))
    assert issue_missing() == []  # the assignment is over
    other = factory.user()
    factory.assign(other, plan, effective_from=date(2026, 1, 1))
    [first] = issue_missing()
    rules = rules_of(plan.versions[0])
    rules.base_rate = Decimal("4")
    version = add_version(None, plan, rules, date(2027, 1, 1), terms="Draws are recoverable.")
    [second] = issue_missing()
    assert (second.version_id, second.effective_from, second.effective_to) == (version.id, date(2027, 1, 1), None)
    assert "4%" in second.body_html and "Draws are recoverable." in second.body_html
    assert second.number == first.number + 1
    db.session.refresh(first)
    # The first document now governs up to the day before the new version; it was issued as it was.
    assert first.effective_to is None and first.superseded_at is None


def test_an_edit_issues_a_new_revision_and_supersedes_the_old(factory, today):
    today(date(2026, 12, 5))
    agent = factory.user()
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1))
    factory.assign(agent, plan, effective_from=date(2026, 12, 1))
    [old] = issue_missing()
    rules = rules_of(plan.versions[0])
    rules.base_rate = Decimal("5")
    edit_version(None, plan.versions[0], rules, terms=None)
    [new] = issue_missing()
    db.session.refresh(old)
    assert new.revision == old.revision + 1 and old.superseded_at is not None
    assert state_of(old) == DocumentState.SUPERSEDED and "5%" in new.body_html
    assert db.session.scalar(select(func.count()).select_from(PlanDocument)) >= 2


def test_an_issued_document_cannot_be_changed(factory, today):
    today(date(2026, 12, 5))
    agent = factory.user()
    factory.assign(agent, factory.plan(base_rate="3", effective_from=date(2026, 1, 1)), effective_from=date(2026, 12, 1))
    [document] = issue_missing()
    db.session.commit()  # the test's savepoint: the rollback below keeps the issued document
    sha, html, document_id = document.sha256, document.body_html, document.id
    document.body_html = html.replace("3%", "9%")
    with pytest.raises(ImmutableRecord, match="body_html"):
        db.session.flush()
    db.session.rollback()
    assert tuple(db.session.execute(select(PlanDocument.sha256, PlanDocument.body_html)
                                    .where(PlanDocument.id == document_id)).one()) == (sha, html)
    stored = db.session.get(PlanDocument, document_id)
    stored.reminders_sent += 1  # the follow-up columns may change
    db.session.flush()
