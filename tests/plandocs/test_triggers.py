"""A new assignment made on the admin page queues the document job after its commit; the job issues
the agent's document (and its email and render job), and running it again issues nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from jobs.plandocs import issue_missing as issue_job
from tests.support.queues import jobs
from webapp.auth.models import Role
from webapp.extensions import db
from webapp.plandocs.models import PlanDocument

pytestmark = pytest.mark.usefixtures("empty_queues")


def test_an_assignment_on_the_page_issues_the_agents_document(as_admin, factory, today):
    today(date(2026, 12, 5))
    agent = factory.user(Role.AGENT, name="Dora Document")
    plan = factory.plan(base_rate="3", name="Doc plan", effective_from=date(2026, 1, 1))
    response = as_admin.post("/admin/plans/assignments", {"agent_id": str(agent.id), "plan_id": str(plan.id),
                                                           "effective_from": "2026-12-01", "effective_to": ""})
    assert response.status_code == 302
    assert jobs("periodic") == [("jobs.plandocs.issue_missing", ())]
    assert db.session.scalar(select(PlanDocument).where(PlanDocument.agent_id == agent.id)) is None

    assert issue_job() == 1
    document = db.session.scalar(select(PlanDocument).where(PlanDocument.agent_id == agent.id))
    assert document.content["plan"]["name"] == "Doc plan"
    assert ("jobs.plandocs.render_document", (document.id,)) in jobs("default")
    assert [name for name, _ in jobs("emails")] == ["jobs.mail.deliver_email"]  # the agent's email
    assert issue_job() == 0


def test_a_refused_assignment_queues_nothing(as_admin, factory, today):
    today(date(2026, 12, 5))
    agent = factory.user(Role.AGENT)
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1))
    response = as_admin.post("/admin/plans/assignments", {"agent_id": str(agent.id), "plan_id": str(plan.id),
                                                           "effective_from": "2026-12-09",
                                                           "effective_to": "2026-12-01"})
    assert response.status_code == 422
    assert jobs("periodic") == []


def test_a_run_that_reaches_its_limit_queues_the_next(factory, today, monkeypatch):
    import jobs.plandocs as plandoc_jobs
    from webapp.plandocs import services

    today(date(2026, 12, 5))
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1))
    agents = [factory.user() for _ in range(3)]
    for agent in agents:
        factory.assign(agent, plan, effective_from=date(2026, 12, 1))
    monkeypatch.setattr(services, "ISSUE_BATCH", 1)
    monkeypatch.setattr(plandoc_jobs, "JOB_ISSUE_BATCHES", 2)
    assert issue_job() == 2
    assert jobs("periodic") == [("jobs.plandocs.issue_missing", ())]  # a fresh run goes on
    assert issue_job() == 1  # the last one; nothing more is queued
    assert jobs("periodic") == [("jobs.plandocs.issue_missing", ())]
    issued = db.session.scalars(select(PlanDocument.agent_id).where(
        PlanDocument.agent_id.in_([a.id for a in agents]))).all()
    assert sorted(issued) == sorted(a.id for a in agents)
