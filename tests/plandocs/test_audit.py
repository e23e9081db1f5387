"""The audit log of plan documents: each issue names the document's number and hash, and a read
through the API is recorded with who read it. (Acknowledgements, reminders and portal views are
checked beside their own features.)"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.web._api import API, headers_for
from webapp.audit.models import AuditEvent
from webapp.extensions import db
from webapp.plandocs.services import issue_missing

pytestmark = pytest.mark.usefixtures("empty_queues")


def _events(document, action: str) -> list[AuditEvent]:
    """The document's audit events of one action, oldest first."""
    return list(db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.object_type == "PlanDocument", AuditEvent.object_id == document.id,
               AuditEvent.action == action).order_by(AuditEvent.id)))


@pytest.fixture
def document(factory, today):
    """One agent's document, issued by the system (no actor) on December 5th."""
    today(date(2026, 12, 5))
    agent = factory.user()
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1))
    factory.assign(agent, plan, effective_from=date(2026, 12, 1))
    [issued] = issue_missing()
    db.session.flush()
    return issued


def test_issuing_records_the_number_and_hash(document):
    [event] = _events(document, "plan_document.issue")
    assert event.actor_id is None  # the system issued it
    assert event.after["number"] == document.number and event.after["sha256"] == document.sha256
    assert (event.after["agent_id"], event.after["version_id"], event.after["revision"]) == (
        document.agent_id, document.version_id, document.revision)
    issue_missing()
    assert len(_events(document, "plan_document.issue")) == 1  # issued once, recorded once


def test_each_api_read_is_recorded_with_its_reader(app, document):
    client = app.test_client()
    agent, manager = document.agent, document.agent.manager
    assert _events(document, "plan_document.view") == []
    for reader in (agent, manager):
        response = client.get(f"{API}/plan-documents/{document.id}", headers=headers_for(reader, "read"))
        assert response.status_code == 200
    views = _events(document, "plan_document.view")
    assert [(event.actor_id, event.after) for event in views] == [(agent.id, {"via": "api"}),
                                                                  (manager.id, {"via": "api"})]
