"""API v1 plan documents (issue 15): who sees which document, filters and paging, the exact HTML
and its hash, the issued and acknowledged PDFs, and the audit of reads."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from tests.web._api import API, error_of, headers_for
from webapp.audit.models import AuditEvent
from webapp.disputes.models import Dispute, DisputeStatus
from webapp.extensions import db
from webapp.plandocs.models import PlanAcknowledgement, PlanDocument, RenderStatus
from webapp.plandocs.services import issue_missing

TODAY = date(2026, 12, 5)
ACKNOWLEDGED_AT = datetime(2026, 12, 5, 9, 30, tzinfo=timezone.utc)
ACKNOWLEDGED_JSON = "2026-12-05T09:30:00Z"  # times in UTC, as every operation writes them

pytestmark = pytest.mark.usefixtures("empty_queues")


@pytest.fixture
def team(build, factory):
    """Maria's team (Alice, Bob) and another team's Carol, each on a tiered or flat plan since
    December 1st, with one issued document each (Alice's, Bob's, Carol's in that order)."""
    build.on(TODAY)
    maria, (alice, bob) = build.team("Maria", "Alice", "Bob", plan=None)
    other_manager, (carol,) = build.team(None, "Carol", plan=None)
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1), name="Field sales")
    for agent in (alice, bob, carol):
        factory.assign(agent, plan, effective_from=date(2026, 12, 1))
    documents = {doc.agent_id: doc for doc in issue_missing()}
    db.session.flush()
    return {"maria": maria, "alice": alice, "bob": bob, "carol": carol, "other_manager": other_manager,
            "admin": factory.user("admin"), "plan": plan,
            "alice_doc": documents[alice.id], "bob_doc": documents[bob.id], "carol_doc": documents[carol.id]}


def numbers(response) -> list[int]:
    """The numbers of a page of documents."""
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["number"] for item in response.json["items"]]


def store_pdf(row, data: bytes) -> None:
    """Store PDF bytes as the render job would (WeasyPrint runs in the worker, not here)."""
    row.pdf, row.pdf_sha256, row.status = data, hashlib.sha256(data).hexdigest(), RenderStatus.RENDERED
    db.session.flush()


def acknowledge(document: PlanDocument) -> PlanAcknowledgement:
    """An acknowledgement row as the acknowledgement service stores it."""
    acknowledgement = PlanAcknowledgement(
        document_id=document.id, agent_id=document.agent_id, document_number=document.number,
        document_sha256=document.sha256, typed_name="Alice Agent", acknowledged_at=ACKNOWLEDGED_AT,
        ip_address="203.0.113.7", user_agent="Mozilla/5.0 (test)", status=RenderStatus.PENDING)
    db.session.add(acknowledgement)
    db.session.flush()
    db.session.expire(document, ["acknowledgement"])
    return acknowledgement


# --- GET /plan-documents ----------------------------------------------------------------------------


def test_each_role_lists_the_documents_it_may_see_newest_first(api, team):
    a, b, c = (team[f"{name}_doc"].number for name in ("alice", "bob", "carol"))
    assert numbers(api.get(f"{API}/plan-documents", headers=headers_for(team["alice"], "read"))) == [a]
    assert numbers(api.get(f"{API}/plan-documents", headers=headers_for(team["carol"]))) == [c]
    assert numbers(api.get(f"{API}/plan-documents", headers=headers_for(team["maria"]))) == [b, a]
    assert numbers(api.get(f"{API}/plan-documents", headers=headers_for(team["other_manager"]))) == [c]
    assert numbers(api.get(f"{API}/plan-documents", headers=headers_for(team["admin"]))) == [c, b, a]


def test_a_listed_document_shows_whose_it_is_its_days_hash_and_state(api, team):
    [item] = api.get(f"{API}/plan-documents", headers=headers_for(team["alice"])).json["items"]
    document = team["alice_doc"]
    assert item == {
        "id": document.id, "number": document.number,
        "agent": {"id": team["alice"].id, "name": "Alice"},
        "plan": {"id": team["plan"].id, "name": "Field sales"}, "version": 1, "revision": document.revision,
        "effective_from": "2026-12-01", "effective_to": None,
        "issued_at": document.created_at.isoformat().replace("+00:00", "Z"), "state": "pending",
        "sha256": document.sha256, "pdf_ready": False, "acknowledged_at": None}


def test_list_filters_by_agent_and_state(api, team):
    maria = headers_for(team["maria"])
    alice_doc, bob_doc = team["alice_doc"], team["bob_doc"]
    bob_only = api.get(f"{API}/plan-documents?agent_id={team['bob'].id}", headers=maria)
    assert numbers(bob_only) == [bob_doc.number]
    acknowledge(alice_doc)
    db.session.add(Dispute(agent_id=team["bob"].id, plan_document_id=bob_doc.id, status=DisputeStatus.OPEN,
                           opened_at=ACKNOWLEDGED_AT))
    db.session.flush()
    assert numbers(api.get(f"{API}/plan-documents?state=acknowledged", headers=maria)) == [alice_doc.number]
    assert numbers(api.get(f"{API}/plan-documents?state=questioned", headers=maria)) == [bob_doc.number]
    assert numbers(api.get(f"{API}/plan-documents?state=pending", headers=maria)) == []
    assert numbers(api.get(f"{API}/plan-documents?state=superseded", headers=maria)) == []
    items = api.get(f"{API}/plan-documents", headers=maria).json["items"]
    assert [(i["state"], i["acknowledged_at"]) for i in items] == [
        ("questioned", None), ("acknowledged", ACKNOWLEDGED_JSON)]


def test_list_pages_with_the_cursor(api, team):
    admin = headers_for(team["admin"])
    first = api.get(f"{API}/plan-documents?limit=2", headers=admin).json
    second = api.get(f"{API}/plan-documents?limit=2&cursor={first['next_cursor']}", headers=admin).json
    assert [i["number"] for i in first["items"] + second["items"]] == [
        team[f"{name}_doc"].number for name in ("carol", "bob", "alice")]
    assert first["next_cursor"] is not None and second["next_cursor"] is None


def test_another_agent_as_a_filter_is_404_and_bad_queries_are_422(api, team):
    assert error_of(api.get(f"{API}/plan-documents?agent_id={team['bob'].id}",
                            headers=headers_for(team["alice"])), 404)
    assert error_of(api.get(f"{API}/plan-documents?agent_id={team['carol'].id}",
                            headers=headers_for(team["maria"])), 404)
    for query, field in (("state=signed", "state"), ("limit=0", "limit"), ("limit=101", "limit"),
                         ("cursor=x", "cursor"), ("agent_id=me", "agent_id"), ("agent_id=0", "agent_id"),
                         ("status=pending", "status")):
        assert field in error_of(api.get(f"{API}/plan-documents?{query}", headers=headers_for(team["maria"])),
                                 422)["fields"], query
    assert error_of(api.get(f"{API}/plan-documents?state=pending&state=acknowledged",
                            headers=headers_for(team["maria"])), 422)
    assert error_of(api.get(f"{API}/plan-documents"), 401)


# --- GET /plan-documents/{id} -----------------------------------------------------------------------


def test_the_detail_holds_the_exact_html_whose_hash_is_the_documents(api, team):
    document = team["alice_doc"]
    response = api.get(f"{API}/plan-documents/{document.id}", headers=headers_for(team["alice"]))
    assert response.status_code == 200, response.json
    detail = response.json
    assert hashlib.sha256(detail["html"].encode("utf-8")).hexdigest() == detail["sha256"] == document.sha256
    assert detail["html"] == document.body_html and f"{document.number}" in detail["html"]
    assert detail["acknowledgement"] is None and detail["state"] == "pending"
    content = detail["content"]
    assert content["earning"] == {"kind": "base_rate", "base_rate": "3"}
    # Money in the API's decimal strings: 3% of 10,000.00 is 300.00 (stored as *_cents integers).
    assert content["examples"]["volumes"][0] == {"volume": "10000.00", "commission": "300.00"}
    assert content["agent"]["name"] == "Alice" and content["effective_from"] == "2026-12-01"


def test_the_detail_shows_the_acknowledgement_once_there_is_one(api, team):
    document = team["alice_doc"]
    url, headers = f"{API}/plan-documents/{document.id}", headers_for(team["maria"])
    assert api.get(url, headers=headers).json["acknowledgement"] is None
    acknowledge(document)
    detail = api.get(url, headers=headers).json
    assert detail["state"] == "acknowledged" and detail["acknowledged_at"] == ACKNOWLEDGED_JSON
    assert detail["acknowledgement"] == {
        "typed_name": "Alice Agent", "acknowledged_at": ACKNOWLEDGED_JSON,
        "document_number": document.number, "document_sha256": document.sha256,
        "ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0 (test)", "pdf_ready": False}


def test_documents_of_others_are_404_for_every_operation(api, team):
    document = team["alice_doc"]
    acknowledgement = acknowledge(document)
    store_pdf(document, b"%PDF-1.7 issued")
    store_pdf(acknowledgement, b"%PDF-1.7 acknowledged")
    for suffix in ("", "/pdf", "/acknowledgement.pdf"):
        for user in (team["bob"], team["carol"], team["other_manager"]):
            assert error_of(api.get(f"{API}/plan-documents/{document.id}{suffix}", headers=headers_for(user)),
                            404)
        for user in (team["alice"], team["maria"], team["admin"]):
            response = api.get(f"{API}/plan-documents/{document.id}{suffix}", headers=headers_for(user))
            assert response.status_code == 200, (suffix, response.status_code)
    assert error_of(api.get(f"{API}/plan-documents/999999", headers=headers_for(team["admin"])), 404)


def test_reading_a_document_is_audited_and_listing_is_not(api, team):
    document = team["bob_doc"]
    api.get(f"{API}/plan-documents", headers=headers_for(team["maria"]))
    response = api.get(f"{API}/plan-documents/{document.id}", headers=headers_for(team["maria"]))
    assert response.status_code == 200
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "PlanDocument",
                                                         AuditEvent.object_id == document.id,
                                                         AuditEvent.action != "plan_document.issue")).all()
    assert [(e.action, e.actor_id, e.after) for e in events] == [
        ("plan_document.view", team["maria"].id, {"via": "api"})]


# --- The PDFs ----------------------------------------------------------------------------------------


def test_the_issued_pdf_is_404_until_rendered_then_the_stored_bytes(api, team):
    document = team["alice_doc"]
    url, headers = f"{API}/plan-documents/{document.id}/pdf", headers_for(team["alice"], "read")
    error = error_of(api.get(url, headers=headers), 404)
    assert error["message"] == "This document's PDF is not ready yet."
    store_pdf(document, b"%PDF-1.7\n% a plan document\n")
    response = api.get(url, headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data == document.pdf
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(response.data).hexdigest()
    assert f"plan-document-{document.number}.pdf" in response.headers["Content-Disposition"]
    listed = api.get(f"{API}/plan-documents", headers=headers).json["items"][0]
    assert listed["pdf_ready"] is True
    download = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "plan_document.download"))
    assert (download.actor_id, download.object_id, download.after) == (
        team["alice"].id, document.id, {"via": "api", "pdf": "issued", "pdf_sha256": document.pdf_sha256})


def test_stored_bytes_that_do_not_match_their_hash_are_not_served(api, team):
    document = team["alice_doc"]
    store_pdf(document, b"%PDF-1.7 original")
    document.pdf = b"%PDF-1.7 altered"
    db.session.flush()
    response = api.get(f"{API}/plan-documents/{document.id}/pdf", headers=headers_for(team["alice"]))
    assert error_of(response, 404)["message"] == "This document's PDF is not ready yet."


def test_the_acknowledged_pdf_is_404_without_an_acknowledgement_and_until_rendered(api, team):
    document = team["alice_doc"]
    url, headers = f"{API}/plan-documents/{document.id}/acknowledgement.pdf", headers_for(team["maria"])
    not_acknowledged = error_of(api.get(url, headers=headers), 404)
    assert not_acknowledged["message"] == "This document has not been acknowledged."
    acknowledgement = acknowledge(document)
    assert error_of(api.get(url, headers=headers), 404)["message"] == "The acknowledged PDF is not ready yet."
    store_pdf(acknowledgement, b"%PDF-1.7 with the acknowledgement block")
    response = api.get(url, headers=headers)
    assert response.status_code == 200 and response.data == b"%PDF-1.7 with the acknowledgement block"
    assert response.headers["X-Content-SHA256"] == acknowledgement.pdf_sha256
    assert f"plan-document-{document.number}-acknowledged.pdf" in response.headers["Content-Disposition"]
    detail = api.get(f"{API}/plan-documents/{document.id}", headers=headers).json
    assert detail["acknowledgement"]["pdf_ready"] is True
    download = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "plan_document.download"))
    assert download.after == {"via": "api", "pdf": "acknowledged", "pdf_sha256": acknowledgement.pdf_sha256}
