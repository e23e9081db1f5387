"""API v1 disputes (issue 17, parity with the pages): an agent disputes their own ledger line, both
sides add to the thread, a manager accepts (posting the correction) or rejects; each side is
emailed; scoped as the pages are, and nothing written when refused."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.support.rows import counts
from tests.web._api import API, error_of, headers_for
from webapp.commissions.ledger import agent_balance
from webapp.commissions.models import CommissionEntry, EntryKind
from webapp.disputes.models import Dispute, DisputeMessage
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail

TODAY = date(2026, 11, 20)


@pytest.fixture
def team(build, factory):
    """Maria manages Alice and Bob, Olga manages Carol (3%); an approved sale each in November."""
    build.on(TODAY)
    maria, (alice, bob) = build.team("Maria", "Alice", "Bob")
    olga, (carol,) = build.team("Olga", "Carol")
    lines = {}
    for agent in (alice, bob, carol):
        sale = factory.sale(agent, "1000.00", date(2026, 11, 3))
        lines[agent.name.lower()] = db.session.scalar(select(CommissionEntry).where(
            CommissionEntry.sale_id == sale.id, CommissionEntry.kind == EntryKind.SALE))
    return {"maria": maria, "alice": alice, "bob": bob, "olga": olga, "carol": carol,
            "admin": factory.user("admin"), "lines": lines}


def written() -> dict:
    """Disputes, messages, ledger entries and emails: what a refusal must not change."""
    return counts(Dispute, DisputeMessage, CommissionEntry, OutgoingEmail)


def _open(api, team, who="alice", comment="The rate should be 4%"):
    """POST /disputes on `who`'s own line."""
    return api.post(f"{API}/disputes", headers=headers_for(team[who]),
                    json={"entry_id": team["lines"][who].id, "comment": comment})


def test_an_agent_disputes_their_line_and_their_manager_is_emailed(api, team):
    before = written()
    response = _open(api, team)
    assert response.status_code == 201, response.json
    dispute = response.json
    assert (dispute["status"], dispute["agent_id"], dispute["entry_id"], dispute["entry_amount"],
            dispute["messages"]) == ("open", team["alice"].id, team["lines"]["alice"].id, "30.00", 1)
    assert [(m["author_id"], m["body"]) for m in dispute["thread"]] == [(team["alice"].id, "The rate should be 4%")]
    after = written()
    assert (after["Dispute"], after["DisputeMessage"], after["OutgoingEmail"]) == (
        before["Dispute"] + 1, before["DisputeMessage"] + 1, before["OutgoingEmail"] + 1)
    email = db.session.scalar(select(OutgoingEmail).order_by(OutgoingEmail.id.desc()).limit(1))
    assert email.to == team["maria"].email
    assert error_of(_open(api, team), 409)  # one open dispute per line


def test_the_list_and_the_thread_are_scoped_like_the_pages(api, team):
    alices = _open(api, team).json["id"]
    carols = _open(api, team, "carol").json["id"]
    ids = {who: [d["id"] for d in api.get(f"{API}/disputes", headers=headers_for(team[who])).json["items"]]
           for who in ("alice", "bob", "maria", "olga", "admin")}
    assert ids == {"alice": [alices], "bob": [], "maria": [alices], "olga": [carols], "admin": [carols, alices]}
    assert api.get(f"{API}/disputes?status=rejected", headers=headers_for(team["maria"])).json["items"] == []
    for who in ("bob", "olga", "carol"):
        assert error_of(api.get(f"{API}/disputes/{alices}", headers=headers_for(team[who])), 404)
    assert error_of(api.get(f"{API}/disputes?status=closed", headers=headers_for(team["maria"])), 422)


def test_both_sides_add_to_the_thread_and_the_other_is_emailed(api, team):
    dispute = _open(api, team).json["id"]
    reply = api.post(f"{API}/disputes/{dispute}/messages", headers=headers_for(team["maria"]),
                     json={"body": "Which sale?"})
    assert reply.status_code == 201 and [m["body"] for m in reply.json["thread"]][-1] == "Which sale?"
    email = db.session.scalar(select(OutgoingEmail).order_by(OutgoingEmail.id.desc()).limit(1))
    assert email.to == team["alice"].email
    before = written()
    assert error_of(api.post(f"{API}/disputes/{dispute}/messages", headers=headers_for(team["bob"]),
                             json={"body": "me too"}), 404)
    assert error_of(api.post(f"{API}/disputes/{dispute}/messages", headers=headers_for(team["alice"]),
                             json={"body": ""}), 422)
    assert written() == before


def test_accepting_posts_the_correction_once(api, team):
    dispute = _open(api, team).json["id"]
    before = agent_balance(team["alice"].id).unpaid
    assert error_of(api.post(f"{API}/disputes/{dispute}/accept", headers=headers_for(team["alice"]),
                             json={"amount": "10.00"}), 403)
    assert error_of(api.post(f"{API}/disputes/{dispute}/accept", headers=headers_for(team["olga"]),
                             json={"amount": "10.00"}), 404)
    accepted = api.post(f"{API}/disputes/{dispute}/accept", headers=headers_for(team["maria"]),
                        json={"amount": "10.00", "note": "Rate corrected"})
    assert accepted.status_code == 200, accepted.json
    assert (accepted.json["status"], accepted.json["resolved_by_id"], accepted.json["resolution_note"]) == (
        "accepted", team["maria"].id, "Rate corrected")
    entry = db.session.get(CommissionEntry, accepted.json["adjustment_entry_id"])
    assert (entry.kind, entry.amount_cents, entry.reason) == ("manual", 1000, f"Dispute #{dispute} accepted: "
                                                                              "Rate corrected")
    assert agent_balance(team["alice"].id).unpaid == before + 1000
    state = written()
    for action, body in (("accept", {"amount": "10.00"}), ("reject", {"reason": "No"})):
        assert "already accepted" in error_of(api.post(f"{API}/disputes/{dispute}/{action}",
                                                       headers=headers_for(team["maria"]), json=body), 409)["message"]
    assert error_of(api.post(f"{API}/disputes/{dispute}/messages", headers=headers_for(team["alice"]),
                             json={"body": "thanks"}), 409)
    assert written() == state


@pytest.mark.parametrize("action, body, field", [
    ("accept", {"amount": "0.00"}, "amount"), ("accept", {"amount": "1.234"}, "amount"),
    ("accept", {"amount": "10.00", "note": "x" * 1901}, "note"), ("accept", {}, "amount"),
    ("reject", {"reason": ""}, "reason"), ("reject", {"reason": "   "}, "reason"), ("reject", {}, "reason"),
])
def test_a_bad_resolution_is_422_naming_the_field_and_leaves_it_open(api, team, action, body, field):
    dispute = _open(api, team).json["id"]
    before = written()
    error = error_of(api.post(f"{API}/disputes/{dispute}/{action}", headers=headers_for(team["maria"]), json=body),
                     422)
    assert field in error["fields"], error
    assert written() == before and db.session.get(Dispute, dispute).status == "open"


def test_rejecting_keeps_the_ledger_and_tells_the_agent(api, team):
    dispute = _open(api, team).json["id"]
    entries = written()["CommissionEntry"]
    rejected = api.post(f"{API}/disputes/{dispute}/reject", headers=headers_for(team["admin"]),
                        json={"reason": "The plan says 3%"})
    assert rejected.status_code == 200 and (rejected.json["status"], rejected.json["resolution_note"]) == (
        "rejected", "The plan says 3%")
    assert written()["CommissionEntry"] == entries
    email = db.session.scalar(select(OutgoingEmail).order_by(OutgoingEmail.id.desc()).limit(1))
    assert email.to == team["alice"].email


def test_only_an_agent_disputes_and_only_their_own_line(api, team):
    before = written()
    assert error_of(api.post(f"{API}/disputes", headers=headers_for(team["alice"]),
                             json={"entry_id": team["lines"]["bob"].id, "comment": "mine?"}), 404)
    assert error_of(api.post(f"{API}/disputes", headers=headers_for(team["maria"]),
                             json={"entry_id": team["lines"]["alice"].id, "comment": "for her"}), 403)
    assert error_of(api.post(f"{API}/disputes", headers=headers_for(team["alice"], "read"),
                             json={"entry_id": team["lines"]["alice"].id, "comment": "x"}), 403)
    for body, field in (({"entry_id": team["lines"]["alice"].id, "comment": ""}, "comment"),
                        ({"comment": "x"}, "entry_id"), ({"entry_id": 0, "comment": "x"}, "entry_id")):
        assert field in error_of(api.post(f"{API}/disputes", headers=headers_for(team["alice"]), json=body),
                                 422)["fields"]
    assert written() == before
