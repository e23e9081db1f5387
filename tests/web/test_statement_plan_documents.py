"""Statements name the plan document each sale line was earned under (issue 15, item 3): the agent's
document of the line's plan version whose days hold the sale date, its newest revision; none for a
line no document governs; statements issued before this have no such key and still show."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event
from sqlalchemy.orm.attributes import flag_modified

from tests.conftest import browser_as
from tests.web._api import API, headers_for
from tests.web._html import html_of, tags, text_of
from webapp.commissions.plan_versions import add_version, edit_version
from webapp.commissions.plans import PlanRules
from webapp.extensions import db
from webapp.plandocs.services import issue_missing
from webapp.statements.services import start_adhoc_run, statement_html
from webapp.statements.snapshots import adhoc_snapshot

pytestmark = pytest.mark.usefixtures("empty_queues")  # render jobs enqueued here are not left behind


def d(day: int, month: int = 11) -> date:
    return date(2026, month, day)


def flat(rate: str) -> PlanRules:
    """A flat plan's rules."""
    return PlanRules(base_rate=Decimal(rate), tiers=[], tier_mode=None, category_rates={}, product_rates={})


def issue_all() -> list:
    """Issue every missing document as the job would (reading what is stored)."""
    db.session.expire_all()
    return issue_missing()


def statement_for(agent, start: date, end: date):
    """An ad-hoc statement the agent asked for."""
    [statement] = start_adhoc_run(agent, agent_ids=[], start=start, end=end).statements
    db.session.flush()
    return statement


def documents_by_date(snapshot: dict) -> dict[str, int | None]:
    """Each sale line's plan document number by its sale date."""
    return {line["date"]: line["plan_document"] for line in snapshot["lines"]}


def rate_cells(page: str) -> list[str]:
    """The text of the sales table's rate cells, top to bottom."""
    return [text_of(t) for t in tags(page, "td") if t.attrs.get("data-label") == "Rate"]


@pytest.fixture
def agent_on_plan(factory, today):
    """An agent on a flat 3% plan since January, with a sale on October 3."""
    today(d(5, 10))
    agent = factory.user("agent", name="Alice Chen")
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1))
    factory.assign(agent, plan, effective_from=date(2026, 1, 1))
    product = factory.product(name="Monitor", sku="MON-1")
    factory.sale(agent, "1000.00", d(3, 10), product=product)
    return agent, plan, product


def test_a_line_names_its_document_and_a_line_no_document_governs_names_none(app, api, agent_on_plan,
                                                                              factory, today):
    agent, plan, product = agent_on_plan
    add_version(None, plan, flat("4"), d(1))
    today(d(10))
    # Version 1 ended before documents were issued: only version 2's is (past pairs never are).
    [document] = issue_all()
    assert document.version_id == plan.versions[1].id
    factory.sale(agent, "2000.00", d(5), product=product)

    statement = statement_for(agent, d(1, 10), d(10))
    assert documents_by_date(statement.snapshot) == {"2026-10-03": None, "2026-11-05": document.number}
    page = html_of(browser_as(app, agent).get(f"/statements/{statement.id}"))
    assert rate_cells(page) == ["3%", f"4%Plan doc. No. {document.number}"]
    assert f"Plan doc. No.&nbsp;{document.number}" in statement_html(statement, for_pdf=True)

    response = api.get(f"{API}/statements/{statement.id}", headers=headers_for(agent))
    assert response.status_code == 200, response.json
    assert [line["plan_document"] for line in response.json["lines"]] == [None, document.number]


def test_two_versions_in_one_statement_each_line_names_its_own_document_newest_revision(app, agent_on_plan,
                                                                                       factory, today):
    agent, plan, product = agent_on_plan
    today(d(2))
    [first] = issue_all()
    factory.sale(agent, "1000.00", d(1), product=product)
    second_version = add_version(None, plan, flat("4"), d(8))
    [original] = issue_all()
    # An edit before the version earned anything is a new revision; the first one is superseded.
    edit_version(None, second_version, flat("5"), terms="Draws: none.")
    [revised] = issue_all()
    assert (original.version_id, revised.version_id, revised.revision) == (second_version.id,) * 2 + (2,)
    today(d(12))
    factory.sale(agent, "1000.00", d(10), product=product)

    statement = statement_for(agent, d(1), d(12))
    assert documents_by_date(statement.snapshot) == {"2026-11-01": first.number, "2026-11-10": revised.number}
    page = html_of(browser_as(app, agent).get(f"/statements/{statement.id}"))
    assert rate_cells(page) == [f"3%Plan doc. No. {first.number}", f"5%Plan doc. No. {revised.number}"]
    assert f"No. {original.number}" not in page


def test_the_documents_of_all_lines_are_read_in_one_query(agent_on_plan, factory, today):
    agent, plan, product = agent_on_plan
    today(d(2))
    issue_all()
    for day in range(1, 3):
        factory.sale(agent, "100.00", d(day), product=product)
    add_version(None, plan, flat("4"), d(8))
    issue_all()
    today(d(12))
    for day in range(8, 13):
        factory.sale(agent, "100.00", d(day), product=product)
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if "FROM plan_documents" in statement:
            statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        snapshot = adhoc_snapshot(agent, d(1, 10), d(12))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(snapshot["lines"]) == 8 and all(line["plan_document"] for line in snapshot["lines"])
    assert len(statements) == 1


def test_a_statement_issued_before_plan_documents_still_shows(app, api, agent_on_plan, today):
    agent, plan, _ = agent_on_plan
    today(d(2))
    [document] = issue_all()
    statement = statement_for(agent, date(2026, 1, 1), d(2))
    assert documents_by_date(statement.snapshot) == {"2026-10-03": document.number}
    # As stored before this change: the lines have no plan_document key.
    snapshot = dict(statement.snapshot)
    snapshot["lines"] = [{k: v for k, v in line.items() if k != "plan_document"} for line in snapshot["lines"]]
    statement.snapshot = snapshot
    flag_modified(statement, "snapshot")
    db.session.flush()

    response = browser_as(app, agent).get(f"/statements/{statement.id}")
    assert response.status_code == 200
    assert rate_cells(html_of(response)) == ["3%"]
    assert "Plan doc." not in statement_html(statement, for_pdf=True)
    lines = api.get(f"{API}/statements/{statement.id}", headers=headers_for(agent)).json["lines"]
    assert [line["plan_document"] for line in lines] == [None]
