"""The agent's side of plan documents through the Flask client: the list, the document page (also
for the agent's manager and admins), acknowledging it, the banner, and the audit of every view."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from tests.conftest import browser_as
from tests.support.queues import jobs
from tests.support.rows import counts, sql_statements
from tests.web._html import (by_id, field_error, flash_messages, html_of, main_text, redirect_path, tags, text_of,
                             within)
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role
from webapp.commissions.plan_versions import add_version, edit_version
from webapp.commissions.plans import rules_of
from webapp.extensions import db
from webapp.plandocs.models import PlanAcknowledgement
from webapp.plandocs.services import issue_missing

pytestmark = pytest.mark.usefixtures("empty_queues")  # the acknowledgement's render job is checked, then dropped

NAME = "Alice Adams"
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Test"
FROM = {"REMOTE_ADDR": "203.0.113.7"}


@pytest.fixture
def world(app, factory, at):
    """Alice (an agent of Maria's team) with one pending document; Bob of another team with his."""
    # The whole clock, not just the day: the documents' issue time is shown as a date.
    at(datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc))
    maria = factory.user(Role.MANAGER, name="Maria Lopez")
    alice = factory.user(Role.AGENT, manager=maria, name=NAME)
    bob = factory.user(Role.AGENT, name="Bob Brown")
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1), name="Field sales 2026")
    factory.assign(alice, plan, effective_from=date(2026, 12, 1))
    factory.assign(bob, plan, effective_from=date(2026, 12, 1))
    documents = {d.agent_id: d for d in issue_missing()}
    return {"alice": alice, "bob": bob, "maria": maria, "plan": plan,
            "doc": documents[alice.id], "bob_doc": documents[bob.id],
            "as_alice": browser_as(app, alice), "as_bob": browser_as(app, bob), "as_maria": browser_as(app, maria)}


def _acknowledge(browser, document, name=NAME, confirm=True):
    """Post the acknowledgement form as a browser does (from the given address, with a user agent)."""
    data = {"typed_name": name}
    if confirm:
        data["confirm"] = "y"
    return browser.post(f"/plan-documents/{document.id}/acknowledge", data, token_from="/plan-documents",
                        environ_base=FROM, headers={"User-Agent": BROWSER})


def _counts():
    """Rows the acknowledgement may write."""
    return counts(PlanAcknowledgement, AuditEvent)


def _audit(action):
    """The audit events of an action, oldest first."""
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# --- the list and the page ----------------------------------------------------------------------

def _next_version_document(world):
    """Alice's document of a new version of her plan (from January 1, 2027)."""
    plan = world["plan"]
    add_version(None, plan, rules_of(plan.versions[0]), date(2027, 1, 1), terms=None)
    return next(d for d in issue_missing() if d.agent_id == world["alice"].id)


def test_the_list_shows_the_agents_documents_waiting_first(world):
    doc = world["doc"]
    # A second document, acknowledged: it comes after the waiting one although it is newer.
    newer = _next_version_document(world)
    assert _acknowledge(world["as_alice"], newer).status_code == 303
    page = html_of(world["as_alice"].get("/plan-documents"))
    rows = [by_id(page, f"plan-document-{d.id}") for d in (doc, newer)]
    assert all(rows) and page.index(f'id="plan-document-{doc.id}"') < page.index(f'id="plan-document-{newer.id}"')
    first = text_of(rows[0])
    assert f"No. {doc.number}" in first and "Field sales 2026" in first and "December 1, 2026" in first
    assert "To acknowledge" in first and "2026-12-05" in first
    assert "Acknowledged" in text_of(rows[1])
    assert f"/plan-documents/{world['bob_doc'].id}" not in page  # Bob's is not Alice's


def test_the_list_is_paged(world, monkeypatch):
    from webapp.plandocs import queries

    monkeypatch.setattr(queries, "PAGE_SIZE", 1)
    _next_version_document(world)
    first = main_text(html_of(world["as_alice"].get("/plan-documents")))
    second = main_text(html_of(world["as_alice"].get("/plan-documents?page=2")))
    assert "2 documents · page 1 of 2" in first and "2 documents · page 2 of 2" in second


def test_the_page_shows_the_stored_document_its_hash_and_the_form(world):
    doc = world["doc"]
    page = html_of(world["as_alice"].get(f"/plan-documents/{doc.id}"))
    assert doc.body_html in page  # exactly the stored bytes, not re-rendered
    footer = text_of(by_id(page, "document-hash"))
    assert f"Document No. {doc.number}" in footer and doc.sha256 in footer
    assert "The PDF is being prepared" in footer  # not rendered yet: no download link
    assert f"/plan-documents/{doc.id}/pdf" not in page
    parts = tags(page)
    section = next(t for t in parts if t.attrs.get("id") == "acknowledge")
    assert "I have read this document" in text_of(section) and "Alice Adams" in text_of(section)
    [form] = within(section, parts, "form")
    assert form.attrs["action"] == f"/plan-documents/{doc.id}/acknowledge" and form.attrs["method"] == "post"
    assert {t.attrs.get("name") for t in within(section, parts, "input")} >= {"csrf_token", "typed_name", "confirm"}
    assert f"/plan-documents/{doc.id}/question" in [a.attrs.get("href") for a in within(section, parts, "a")]


@pytest.mark.parametrize("suffix", ["", "/pdf", "/acknowledged.pdf"])
def test_another_agents_document_is_not_found(world, suffix):
    assert world["as_alice"].get(f"/plan-documents/{world['bob_doc'].id}{suffix}").status_code == 404


def test_another_agent_cannot_acknowledge(world):
    before = _counts()
    response = _acknowledge(world["as_bob"], world["doc"], name="Bob Brown")
    assert response.status_code == 404
    assert _counts() == before


def test_managers_see_their_teams_documents_and_admins_all(app, world, factory):
    doc = world["doc"]
    other_manager = browser_as(app, factory.user(Role.MANAGER))
    assert other_manager.get(f"/plan-documents/{doc.id}").status_code == 404
    assert other_manager.get(f"/plan-documents/{doc.id}/pdf").status_code == 404
    page = html_of(world["as_maria"].get(f"/plan-documents/{doc.id}"))
    assert doc.sha256 in page and NAME in page
    assert by_id(page, "acknowledge") is None  # only the agent acknowledges
    admin = browser_as(app, factory.user(Role.ADMIN))
    assert admin.get(f"/plan-documents/{doc.id}").status_code == 200
    # The manager can neither list nor acknowledge (agents only).
    assert world["as_maria"].get("/plan-documents").status_code == 403


def test_every_view_is_audited(world):
    doc = world["doc"]
    world["as_alice"].get(f"/plan-documents/{doc.id}")
    world["as_maria"].get(f"/plan-documents/{doc.id}")
    views = _audit("plan_document.view")
    assert [(e.actor_id, e.object_type, e.object_id, e.after) for e in views] == [
        (world["alice"].id, "PlanDocument", doc.id, {"number": doc.number}),
        (world["maria"].id, "PlanDocument", doc.id, {"number": doc.number})]
    world["as_alice"].get(f"/plan-documents/{world['bob_doc'].id}")  # refused: not recorded
    assert len(_audit("plan_document.view")) == 2


# --- acknowledging ------------------------------------------------------------------------------

def test_acknowledging_stores_what_was_seen_and_who_typed_it(world, at):
    from datetime import datetime, timezone

    moment = at(datetime(2026, 12, 5, 14, 30, 12, tzinfo=timezone.utc))
    doc, before = world["doc"], _counts()
    response = _acknowledge(world["as_alice"], doc, name="  alice   ADAMS ")
    assert response.status_code == 303 and redirect_path(response) == f"/plan-documents/{doc.id}"
    after = _counts()
    assert after == {"PlanAcknowledgement": before["PlanAcknowledgement"] + 1, "AuditEvent": before["AuditEvent"] + 1}
    ack = db.session.scalars(select(PlanAcknowledgement)).one()
    assert (ack.document_id, ack.agent_id, ack.document_number, ack.document_sha256) == (
        doc.id, world["alice"].id, doc.number, doc.sha256)
    assert ack.typed_name == "alice ADAMS" and ack.acknowledged_at == moment
    assert (ack.ip_address, ack.user_agent, ack.status) == ("203.0.113.7", BROWSER, "pending")
    [event] = _audit("plan_document.acknowledge")
    assert (event.actor_id, event.object_id, event.after["number"], event.after["sha256"]) == (
        world["alice"].id, doc.id, doc.number, doc.sha256)
    assert ("jobs.plandocs.render_acknowledgement", (ack.id,)) in jobs("default")
    page = html_of(world["as_alice"].get(f"/plan-documents/{doc.id}"))
    assert "your acknowledgement is recorded" in " ".join(flash_messages(page))
    shown = text_of(by_id(page, "acknowledgement"))
    assert "alice ADAMS" in shown and "2026-12-05 14:30:12 UTC" in shown and doc.sha256 in shown
    assert "203.0.113.7" in shown and by_id(page, "acknowledge") is None


def test_a_long_user_agent_is_cut_to_512_characters(world):
    world["as_alice"].post(f"/plan-documents/{world['doc'].id}/acknowledge", {"typed_name": NAME, "confirm": "y"},
                           token_from="/plan-documents", headers={"User-Agent": "x" * 2000})
    assert db.session.scalars(select(PlanAcknowledgement)).one().user_agent == "x" * 512


@pytest.mark.parametrize("name, confirm, field, message", [
    ("Alice Smith", True, "typed_name", "Type your full name as on your account: Alice Adams"),
    ("", True, "typed_name", "Type your full name to acknowledge: Alice Adams"),
    ("Alice\u202eAdams", True, "typed_name", "invisible text-direction character"),
    (NAME, False, "confirm", "Tick the box to confirm that you have read this document."),
])
def test_a_wrong_name_or_no_tick_is_refused_beside_the_field(world, name, confirm, field, message):
    before = _counts()
    response = _acknowledge(world["as_alice"], world["doc"], name=name, confirm=confirm)
    assert response.status_code == 422
    assert message in (field_error(html_of(response), field) or "")
    assert _counts() == before and jobs("default") == []


def test_both_errors_show_at_once(world):
    page = html_of(_acknowledge(world["as_alice"], world["doc"], name="Someone Else", confirm=False))
    assert field_error(page, "typed_name") and field_error(page, "confirm")


def test_a_second_acknowledgement_is_refused_and_one_row_stays(world):
    doc = world["doc"]
    assert _acknowledge(world["as_alice"], doc).status_code == 303
    before = _counts()
    again = _acknowledge(world["as_alice"], doc)
    assert again.status_code == 409
    assert f"You have already acknowledged plan document No. {doc.number}." in flash_messages(html_of(again))
    assert _counts() == before


def test_a_double_submit_racing_past_the_check_gets_the_first_record(world, monkeypatch):
    """Two submissions that both saw the document pending: the unique index lets one in, the other
    gets that one (in a savepoint: no 500, no second audit row)."""
    from webapp.plandocs import acknowledgements
    from webapp.plandocs.models import DocumentState

    alice, doc = world["alice"], world["doc"]
    first = acknowledgements.acknowledge(alice, doc, NAME, "203.0.113.7", BROWSER)
    monkeypatch.setattr(acknowledgements, "state_of", lambda _document: DocumentState.PENDING)
    second = acknowledgements.acknowledge(alice, doc, NAME, "198.51.100.1", "Other")
    assert second.id == first.id and second.ip_address == "203.0.113.7"
    assert len(_audit("plan_document.acknowledge")) == 1


def test_a_superseded_document_cannot_be_acknowledged(world):
    doc, plan = world["doc"], world["plan"]
    rules = rules_of(plan.versions[0])
    edit_version(None, plan.versions[0], rules, terms="New terms.")
    issue_missing()  # the new revision supersedes Alice's document
    before = _counts()
    response = _acknowledge(world["as_alice"], doc)
    assert response.status_code == 409
    assert any("replaced by a newer revision" in m for m in flash_messages(html_of(response)))
    assert _counts() == before
    page = html_of(world["as_alice"].get(f"/plan-documents/{doc.id}"))
    assert by_id(page, "acknowledge") is None and "Replaced" in page


# --- the banner ---------------------------------------------------------------------------------

BANNER = "plan-documents-banner"


def test_the_banner_shows_until_the_document_is_acknowledged(world):
    alice = world["as_alice"]
    page = html_of(alice.get("/statements"))
    parts = tags(page)
    banner = next(t for t in parts if t.attrs.get("id") == BANNER)
    assert text_of(banner) == "You have 1 plan document to read and acknowledge"
    assert [a.attrs["href"] for a in within(banner, parts, "a")] == ["/plan-documents"]
    assert by_id(html_of(world["as_maria"].get("/statements")), BANNER) is None  # agents only
    _acknowledge(alice, world["doc"])
    assert by_id(html_of(alice.get("/statements")), BANNER) is None


def test_the_banner_costs_one_query_and_none_in_fragments(world):
    alice = world["as_alice"]
    with sql_statements() as sent:
        alice.get("/statements")
    # The count is the only statement that reads acknowledgements (the statements page does not).
    assert len([s for s in sent if "plan_acknowledgements" in s]) == 1
    with sql_statements() as sent:
        response = alice.get("/statements", headers={"HX-Request": "true", "HX-Target": "statements-table"})
    assert response.status_code == 200 and not [s for s in sent if "plan_acknowledgements" in s]


def test_the_agents_navigation_has_plan_documents(world):
    page = html_of(world["as_alice"].get("/statements"))
    parts = tags(page)
    nav = next(t for t in parts if t.name == "nav" and t.attrs.get("aria-label") == "Main")
    assert "/plan-documents" in [a.attrs.get("href") for a in within(nav, parts, "a")]
