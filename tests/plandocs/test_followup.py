"""Following plan documents up (issue 15 item 3): states and counts, the manager's team list, the
admin's company list and its CSV export (team-scoped, formula-safe, audited)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from tests.conftest import browser_as
from tests.web._html import by_testid
from tests.web._streaming import streaming_browser
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role
from webapp.disputes.models import Dispute, DisputeStatus
from webapp.extensions import db
from webapp.plandocs import followup
from webapp.plandocs.followup import Filters
from webapp.plandocs.models import PlanAcknowledgement
from webapp.plandocs.services import issue_missing

ISSUED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TODAY = date(2026, 12, 5)


def acknowledge(document, name: str = "Ann Agent", ip: str = "203.0.113.9") -> PlanAcknowledgement:
    """The agent's acknowledgement of `document`, as a row."""
    row = PlanAcknowledgement(document_id=document.id, agent_id=document.agent_id, document_number=document.number,
                              document_sha256=document.sha256, typed_name=name,
                              acknowledged_at=datetime(2026, 12, 3, 15, 30, tzinfo=UTC), ip_address=ip,
                              user_agent="pytest")
    db.session.add(row)
    db.session.flush()
    return row


def question(document) -> Dispute:
    """An open question about `document`, as a row."""
    row = Dispute(plan_document_id=document.id, agent_id=document.agent_id, status=DisputeStatus.OPEN,
                  opened_at=datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
    db.session.add(row)
    db.session.flush()
    return row


@pytest.fixture
def world(factory, at):
    """Team A (Ann pending, Ben questioned, Cy acknowledged, Di superseded) and team B (Bo pending),
    all issued on 2026-12-01 and looked at on 2026-12-05."""
    at(ISSUED)
    manager_a = factory.user(Role.MANAGER, name="Manager A")
    manager_b = factory.user(Role.MANAGER, name="Manager B")
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1), name="Field sales")
    agents = {name: factory.user(name=name, manager=manager_a) for name in ("Ann Agent", "Ben Agent", "Cy Agent",
                                                                            "Di Agent")}
    agents["Bo Other"] = factory.user(name="Bo Other", manager=manager_b)
    for agent in agents.values():
        factory.assign(agent, plan, effective_from=date(2026, 12, 1))
    documents = {d.agent.name: d for d in issue_missing()}
    question(documents["Ben Agent"])
    acknowledge(documents["Cy Agent"])
    documents["Di Agent"].superseded_at = ISSUED
    db.session.flush()
    at(datetime(2026, 12, 5, 12, 0, tzinfo=UTC))
    admin = factory.user(Role.ADMIN, name="Admin")
    return {"manager_a": manager_a, "manager_b": manager_b, "admin": admin, "plan": plan, "docs": documents,
            "agents": agents}


def names(page) -> list[str]:
    """The agent names of a page's rows, in order."""
    return [row.agent_name for row in page.rows]


# --- the queries -----------------------------------------------------------------------------------

def test_each_document_has_its_state_and_the_counts_add_up(world):
    page = followup.list_documents(world["manager_a"], Filters(state="all"))
    assert {row.agent_name: row.state for row in page.rows} == {
        "Ann Agent": "pending", "Ben Agent": "questioned", "Cy Agent": "acknowledged", "Di Agent": "superseded"}
    assert page.counts == {"pending": 1, "questioned": 1, "acknowledged": 1, "superseded": 1, "open": 2, "all": 4}
    by_name = {row.agent_name: row for row in page.rows}
    assert by_name["Cy Agent"].acknowledged_on == date(2026, 12, 3)
    assert by_name["Ben Agent"].question_on == date(2026, 12, 2)
    assert by_name["Ann Agent"].acknowledged_at is None and by_name["Ann Agent"].days_waiting(TODAY) == 4


@pytest.mark.parametrize("state, expected", [
    ("open", ["Ann Agent", "Ben Agent"]), ("pending", ["Ann Agent"]), ("questioned", ["Ben Agent"]),
    ("acknowledged", ["Cy Agent"]), ("superseded", ["Di Agent"]), ("nonsense", ["Ann Agent", "Ben Agent"]),
])
def test_the_state_filter(world, state, expected):
    page = followup.list_documents(world["manager_a"], Filters.parse(state, None))
    assert sorted(names(page)) == expected


def test_the_name_search_narrows_rows_and_counts(world):
    page = followup.list_documents(world["manager_a"], Filters.parse("all", "  ben "))
    assert names(page) == ["Ben Agent"] and page.counts["all"] == 1 and page.counts["questioned"] == 1
    assert followup.list_documents(world["manager_a"], Filters.parse("all", "%")).rows == []  # no wildcard


def test_a_manager_sees_their_team_only_and_an_admin_everyone(world):
    assert "Bo Other" not in names(followup.list_documents(world["manager_a"], Filters(state="all")))
    assert names(followup.list_documents(world["manager_b"], Filters(state="all"))) == ["Bo Other"]
    admin = followup.list_documents(world["admin"], Filters(state="all"))
    assert admin.counts["all"] == 5 and admin.counts["pending"] == 2


def test_per_plan_counts(world, factory):
    other = factory.plan(base_rate="2", effective_from=date(2026, 1, 1), name="Inside sales")
    factory.assign(factory.user(manager=world["manager_a"]), other, effective_from=date(2026, 12, 1))
    issue_missing()
    plans = followup.plan_counts(world["admin"])
    assert [p["name"] for p in plans] == ["Field sales", "Inside sales"]
    assert plans[0] == {"name": "Field sales", "total": 5, "pending": 2, "questioned": 1, "acknowledged": 1,
                        "superseded": 1}
    assert plans[1]["pending"] == 1 and plans[1]["total"] == 1


def test_the_list_is_paged(world, factory, monkeypatch):
    monkeypatch.setattr(followup, "PAGE_SIZE", 1)
    first = followup.list_documents(world["manager_a"], Filters(state="open"), page=1)
    second = followup.list_documents(world["manager_a"], Filters(state="open"), page=2)
    assert (first.pages, first.total) == (2, 2)
    assert names(first) + names(second) == ["Ann Agent", "Ben Agent"]  # oldest issued first


# --- the manager's page ----------------------------------------------------------------------------

def test_the_manager_page_shows_waiting_documents_with_counts(app, world):
    response = browser_as(app, world["manager_a"]).get("/manage/plan-documents")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert by_testid(html, "count-open") == "2" and by_testid(html, "count-acknowledged") == "1"
    ann = world["docs"]["Ann Agent"]
    assert f'href="/plan-documents/{ann.id}"' in html and f"No. {ann.number}" in html
    assert "pending since December 1, 2026" in html and "(4 days)" in html
    assert "question open since December 2, 2026" in html
    assert "Cy Agent" not in html and "Bo Other" not in html
    acknowledged = browser_as(app, world["manager_a"]).get("/manage/plan-documents?state=acknowledged")
    assert "acknowledged on December 3, 2026" in acknowledged.get_data(as_text=True)


def test_htmx_gets_only_the_list(app, world):
    response = browser_as(app, world["manager_a"]).get(
        "/manage/plan-documents?state=all", headers={"HX-Request": "true", "HX-Target": "documents-list"})
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="documents-list">') and "<html" not in html
    assert "Di Agent" in html


def test_agents_are_refused_and_managers_have_no_company_page(app, world):
    agent = browser_as(app, world["agents"]["Ann Agent"])
    assert agent.get("/manage/plan-documents").status_code == 403
    assert agent.get("/admin/plan-documents").status_code == 403
    manager = browser_as(app, world["manager_a"])
    assert manager.get("/admin/plan-documents").status_code == 403
    assert manager.get("/admin/plan-documents.csv").status_code == 403


def test_the_navigation_links_the_pages(app, world):
    manager_html = browser_as(app, world["manager_a"]).get("/manage/plan-documents").get_data(as_text=True)
    assert 'href="/manage/plan-documents"' in manager_html and 'href="/admin/plan-documents"' not in manager_html
    admin_html = browser_as(app, world["admin"]).get("/admin/plan-documents").get_data(as_text=True)
    assert 'href="/admin/plan-documents"' in admin_html and 'href="/admin/plan-documents.csv"' in admin_html
    assert "Field sales" in admin_html and "Bo Other" in admin_html


# --- the CSV export --------------------------------------------------------------------------------

def _rows(response) -> list[dict[str, str]]:
    """The CSV body as dicts (the byte-order mark dropped)."""
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"), newline="")))


def test_the_export_has_every_document_with_its_acknowledgement(app, world):
    response = streaming_browser(app, world["admin"]).get("/admin/plan-documents.csv")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff") and text.splitlines()[0].lstrip("\ufeff") == ",".join(followup.CSV_COLUMNS)
    rows = {row["agent_name"]: row for row in _rows(response)}
    assert set(rows) == {"Ann Agent", "Ben Agent", "Cy Agent", "Di Agent", "Bo Other"}
    cy, doc = rows["Cy Agent"], world["docs"]["Cy Agent"]
    assert (cy["document_number"], cy["state"], cy["typed_name"], cy["ip_address"]) == (
        str(doc.number), "acknowledged", "Ann Agent", "203.0.113.9")
    assert cy["document_sha256"] == doc.sha256 and cy["acknowledged_at"] == "2026-12-03T15:30:00+00:00"
    assert (cy["plan"], cy["version"], cy["revision"], cy["effective_from"], cy["effective_to"]) == (
        "Field sales", "1", "1", "2026-12-01", "")
    assert cy["manager_name"] == "Manager A" and cy["agent_email"] == doc.agent.email
    assert rows["Ann Agent"]["state"] == "pending" and rows["Ann Agent"]["acknowledged_at"] == ""
    assert rows["Ann Agent"]["reminders_sent"] == "0" and rows["Di Agent"]["state"] == "superseded"
    numbers = [int(row["document_number"]) for row in _rows(response)]
    assert numbers == sorted(numbers)


def test_the_export_reads_in_batches_and_keeps_every_row_once(app, world, monkeypatch):
    monkeypatch.setattr(followup, "EXPORT_BATCH", 2)
    rows = _rows(streaming_browser(app, world["admin"]).get("/admin/plan-documents.csv"))
    assert len(rows) == 5 and len({row["document_number"] for row in rows}) == 5


def test_the_export_neutralises_formulas(app, world):
    world["agents"]["Ann Agent"].name = "=HYPERLINK(\"http://x\")"
    acknowledge(world["docs"]["Ann Agent"], name="@SUM(1,2)")
    db.session.commit()
    rows = {row["document_number"]: row for row in
            _rows(streaming_browser(app, world["admin"]).get("/admin/plan-documents.csv"))}
    ann = rows[str(world["docs"]["Ann Agent"].number)]
    assert ann["agent_name"] == "'=HYPERLINK(\"http://x\")" and ann["typed_name"] == "'@SUM(1,2)"
    assert rows[str(world["docs"]["Cy Agent"].number)]["typed_name"] == "Ann Agent"  # harmless text as it is


def test_the_export_is_audited(app, world):
    streaming_browser(app, world["admin"]).get("/admin/plan-documents.csv?state=open").get_data()
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "plan_document.export")).all()
    assert event.actor_id == world["admin"].id
    assert event.after == {"state": "open", "agent": None, "documents": 3}
