"""Issuers running at once (the job after a plan change and the clock's sweep) on PostgreSQL: each
missing document is issued once, numbers stay gap-free, and no run fails on a duplicate."""

from __future__ import annotations

import threading
from datetime import date

from sqlalchemy import select

from tests.support.committed import in_threads
from webapp.extensions import db
from webapp.plandocs.models import PlanDocument
from webapp.plandocs.services import issue_missing

RUNS = 3
AGENTS = 6
WAIT = 20


def test_simultaneous_issuers_issue_each_document_once(app, committed, factory, today):
    today(date(2026, 12, 5))
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1))
    agents = [factory.user() for _ in range(AGENTS)]
    for agent in agents:
        factory.assign(agent, plan, effective_from=date(2026, 12, 1))
    db.session.commit()
    barrier = threading.Barrier(RUNS, timeout=WAIT)
    issued: list[int] = []

    def run(index: int) -> None:
        """One issuer, in its own session, started with the others."""
        with app.app_context():
            barrier.wait()
            try:
                issued.extend(document.id for document in issue_missing())
                db.session.commit()
            finally:
                db.session.remove()

    in_threads(run, [()] * RUNS, WAIT)
    documents = db.session.scalars(select(PlanDocument).where(
        PlanDocument.agent_id.in_([agent.id for agent in agents]))).all()
    assert sorted(d.agent_id for d in documents) == sorted(agent.id for agent in agents)
    assert sorted(issued) == sorted(d.id for d in documents)
    numbers = sorted(d.number for d in documents)
    assert numbers == list(range(numbers[0], numbers[0] + AGENTS))
