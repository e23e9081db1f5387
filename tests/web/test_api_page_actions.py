"""API v1 operations for the page actions that had none (issue 17, parity with the pages): creating
a plan and correcting a version that has earned nothing; acknowledging a plan document, asking
about it and answering the question; retrying a failed background operation; following and retrying
a SPIFF change's background recompute; emailing a statement again and rendering its failed PDF
again.

Each goes through the same service as its page: the happy path, 404 across teams, 422 naming the
field, and nothing written when refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from rq import Queue
from sqlalchemy import select

from tests.support.queues import jobs
from tests.support.rows import counts
from tests.web._api import API, error_of, headers_for
from webapp.auth.tokens import create_token
from webapp.audit.models import AuditEvent
from webapp.commissions.assignments import recompute_plan_agents
from webapp.commissions.models import CommissionEntry, CommissionPlan, EntryKind, PlanTier, PlanVersion
from webapp.commissions.periods import period_for
from webapp.commissions.plans import rules_of
from webapp.disputes.models import Dispute, DisputeMessage
from webapp.extensions import db, redis_client
from webapp.mail.models import OutgoingEmail
from webapp.operations.models import BackgroundOperation, OperationStatus
from webapp.operations.services import started
from webapp.plandocs.models import PlanAcknowledgement
from webapp.plandocs.services import issue_missing
from webapp.spiffs import recompute
from webapp.spiffs.models import SpiffRecompute
from webapp.statements.models import StatementStatus
from webapp.statements.rendering import render_statement
from webapp.statements.services import start_period_run

TODAY = date(2026, 11, 20)

pytestmark = pytest.mark.usefixtures("empty_queues")  # jobs of earlier tests do not count


@pytest.fixture
def world(build, factory):
    """Maria's Alice (on the flat 3% plan, a 1000.00 sale on the 3rd) and Olga's Carol; an admin;
    a plan nobody is on; each agent's plan document."""
    build.on(TODAY)
    maria, (alice,) = build.team("Maria", "Alice Able")
    olga, (carol,) = build.team("Olga", "Carol Cole")
    factory.sale(alice, "1000.00", date(2026, 11, 3))
    unused = factory.plan(base_rate="2", effective_from=date(2026, 11, 1), name="Unused")
    documents = {document.agent_id: document for document in issue_missing()}
    db.session.flush()
    return {"maria": maria, "alice": alice, "olga": olga, "carol": carol, "admin": factory.user("admin"),
            "flat": build.plan, "unused": unused, "alice_doc": documents[alice.id],
            "carol_doc": documents[carol.id]}


def _as(world, who: str, scope: str = "write", **access: str) -> dict:
    """The Authorization header of a fresh token of `who`: `scope` on every area, or `access` per area."""
    if access:
        return {"Authorization": f"Bearer {create_token(world[who], name='areas', access=access)[1]}"}
    return headers_for(world[who], scope)


# --- POST /plans ----------------------------------------------------------------------------------


def test_an_admin_creates_a_plan_with_its_first_version(api, world):
    response = api.post(f"{API}/plans", headers=_as(world, "admin"), json={
        "name": "  Enterprise  ", "description": "Large accounts", "effective_from": "2026-11-01",
        "tiers": [{"start": "0", "rate": "2"}, {"start": "10000", "rate": "4.5"}], "tier_mode": "retroactive",
        "terms": "Paid monthly"})
    assert response.status_code == 201, response.json
    plan = response.json
    assert (plan["name"], plan["description"], plan["active"]) == ("Enterprise", "Large accounts", True)
    [version] = plan["versions"]
    assert (version["version"], version["effective_from"], version["tier_mode"], version["terms"]) == (
        1, "2026-11-01", "retroactive", "Paid monthly")
    assert version["tiers"] == [{"start": "0.00", "rate": "2"}, {"start": "10000.00", "rate": "4.5"}]
    assert api.get(f"{API}/plans/{plan['id']}", headers=_as(world, "admin")).json == plan
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "plan.create").order_by(
        AuditEvent.id.desc()).limit(1))
    assert audit.actor_id == world["admin"].id and audit.after["name"] == "Enterprise"


@pytest.mark.parametrize("fields, field", [
    ({"name": "Unused"}, "name"),                                   # taken
    ({"name": "   "}, "name"),                                      # blank once trimmed
    ({"name": "x" * 81}, "name"),
    ({"base_rate": None, "tiers": [{"start": "0", "rate": "2"}]}, "tier_mode"),
    ({"base_rate": "101"}, "base_rate"),
    ({"effective_from": "2026-02-30"}, "effective_from"),
    ({"product_rates": [{"product_id": 999999, "rate": "1"}]}, "product_rates"),
    ({"colour": "red"}, "colour"),
])
def test_a_refused_plan_is_422_naming_the_field_and_writes_nothing(api, world, fields, field):
    admin = _as(world, "admin")  # the token's own audit row comes before the count
    before = counts(CommissionPlan, PlanVersion, PlanTier, AuditEvent)
    body = {"name": "Enterprise", "effective_from": "2026-11-01", "base_rate": "3", **fields}
    error = error_of(api.post(f"{API}/plans", headers=admin, json=body), 422)
    assert field in error["fields"], error
    assert counts(CommissionPlan, PlanVersion, PlanTier, AuditEvent) == before


def test_only_admins_with_admin_write_create_plans(api, world):
    body = {"name": "Enterprise", "effective_from": "2026-11-01", "base_rate": "3"}
    for who in ("maria", "alice"):
        assert error_of(api.post(f"{API}/plans", headers=_as(world, who), json=body), 403)
    assert error_of(api.post(f"{API}/plans", headers=_as(world, "admin", "read"), json=body), 403)
    assert db.session.scalar(select(CommissionPlan).where(CommissionPlan.name == "Enterprise")) is None


# --- PUT /plans/{plan_id}/versions/{version_id} ---------------------------------------------------------


def _version_url(plan) -> str:
    """The URL of the plan's first version."""
    return f"{API}/plans/{plan.id}/versions/{plan.versions[0].id}"


def test_a_version_that_earned_nothing_is_corrected_in_place(api, world):
    url = _version_url(world["unused"])
    etag = api.get(url, headers=_as(world, "admin")).headers["ETag"]
    response = api.put(url, headers={**_as(world, "admin"), "If-Match": etag},
                       json={"base_rate": "2.5", "terms": "Corrected"})
    assert response.status_code == 200, response.json
    assert (response.json["base_rate"], response.json["terms"], response.json["effective_from"]) == (
        "2.5", "Corrected", "2026-11-01")
    db.session.expire_all()
    version = db.session.get(PlanVersion, world["unused"].versions[0].id)
    assert (rules_of(version).base_rate, version.document_revision) == (Decimal("2.5"), 2)
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "plan.version.edit"))
    assert (audit.object_id, audit.after["terms"], audit.before["terms"]) == (version.id, "Corrected", None)
    # A stale If-Match (the version as it was) changes nothing.
    error_of(api.put(url, headers={**_as(world, "admin"), "If-Match": etag}, json={"base_rate": "9"}), 412)
    db.session.expire_all()
    assert rules_of(db.session.get(PlanVersion, version.id)).base_rate == Decimal("2.5")


def test_a_version_that_earned_commission_is_409_and_unchanged(api, world):
    plan, admin = world["flat"], _as(world, "admin")
    before = counts(PlanTier, AuditEvent, CommissionEntry)
    error = error_of(api.put(_version_url(plan), headers=admin, json={"base_rate": "9"}), 409)
    assert "create a new version" in error["message"]
    db.session.expire_all()
    assert rules_of(db.session.get(PlanVersion, plan.versions[0].id)).base_rate == Decimal("3")
    assert counts(PlanTier, AuditEvent, CommissionEntry) == before


def test_a_bad_correction_is_422_and_another_plans_version_is_404(api, world):
    url = _version_url(world["unused"])
    error = error_of(api.put(url, headers=_as(world, "admin"), json={"base_rate": "3.12345"}), 422)
    assert "base_rate" in error["fields"]
    error = error_of(api.put(url, headers=_as(world, "admin"), json={"base_rate": "3", "effective_from": "2026-11-02"}),
                     422)
    assert "effective_from" in error["fields"], "the day of a version is not corrected: add a version"
    foreign = f"{API}/plans/{world['flat'].id}/versions/{world['unused'].versions[0].id}"
    assert error_of(api.put(foreign, headers=_as(world, "admin"), json={"base_rate": "3"}), 404)
    assert error_of(api.get(foreign, headers=_as(world, "admin")), 404)
    assert error_of(api.put(url, headers=_as(world, "maria"), json={"base_rate": "3"}), 403)
    db.session.expire_all()
    assert rules_of(db.session.get(PlanVersion, world["unused"].versions[0].id)).base_rate == Decimal("2")


# --- Plan documents: acknowledge, ask, answer ----------------------------------------------------


def _acknowledge(api, world, who="alice", document="alice_doc", **body):
    """POST the acknowledgement of a document as `who`."""
    return api.post(f"{API}/plan-documents/{world[document].id}/acknowledgement", headers=_as(world, who),
                    json={"typed_name": world[who].name, "confirm": True, **body})


def test_an_agent_acknowledges_their_document(api, world):
    response = _acknowledge(api, world, typed_name="  alice   ABLE ")
    assert response.status_code == 201, response.json
    document = response.json
    assert (document["state"], document["acknowledgement"]["typed_name"]) == ("acknowledged", "alice ABLE")
    assert document["acknowledgement"]["document_sha256"] == world["alice_doc"].sha256
    assert document["acknowledgement"]["user_agent"], "what the agent acknowledged from is kept, as on the page"
    acknowledgement = db.session.scalar(select(PlanAcknowledgement.id))
    assert ("jobs.plandocs.render_acknowledgement", (acknowledgement,)) in jobs("default"), "after the commit"
    shown = api.get(f"{API}/plan-documents/{world['alice_doc'].id}", headers=_as(world, "maria")).json
    assert shown["acknowledgement"] == document["acknowledgement"]
    # Once acknowledged it is no longer waiting: a second acknowledgement is refused.
    assert error_of(_acknowledge(api, world), 409)


@pytest.mark.parametrize("body, field", [
    ({"typed_name": "Someone Else"}, "typed_name"),
    ({"typed_name": ""}, "typed_name"),
    ({"confirm": False}, "confirm"),
    ({"confirm": None}, "confirm"),
])
def test_a_refused_acknowledgement_names_the_field_and_records_nothing(api, world, body, field):
    error = error_of(_acknowledge(api, world, **body), 422)
    assert field in error["fields"], error
    assert counts(PlanAcknowledgement)["PlanAcknowledgement"] == 0


def test_acknowledging_someone_elses_document_is_404_or_403(api, world):
    assert error_of(_acknowledge(api, world, document="carol_doc"), 404)
    assert error_of(api.post(f"{API}/plan-documents/{world['alice_doc'].id}/acknowledgement",
                             headers=_as(world, "maria"), json={"typed_name": "Maria", "confirm": True}), 403)
    assert counts(PlanAcknowledgement)["PlanAcknowledgement"] == 0


def _ask(api, world, who="alice", document="alice_doc", comment="Is the rate per month?"):
    """POST a question about a document as `who`."""
    return api.post(f"{API}/plan-documents/{world[document].id}/questions", headers=_as(world, who),
                    json={"comment": comment})


def test_an_agent_asks_about_their_document_and_their_manager_answers(api, world, outbox):
    asked = _ask(api, world)
    assert asked.status_code == 201, asked.json
    question = asked.json
    assert (question["status"], question["plan_document_id"], question["entry_id"]) == (
        "open", world["alice_doc"].id, None)
    assert api.get(f"{API}/plan-documents/{world['alice_doc'].id}",
                   headers=_as(world, "alice")).json["state"] == "questioned"
    mails = db.session.scalars(select(OutgoingEmail.to).order_by(OutgoingEmail.id)).all()
    assert mails[-1] == world["maria"].email
    answered = api.post(f"{API}/disputes/{question['id']}/answer", headers=_as(world, "maria"),
                        json={"answer": "Yes: per calendar month."})
    assert answered.status_code == 200, answered.json
    assert (answered.json["status"], answered.json["resolution_note"], answered.json["resolved_by_id"]) == (
        "answered", "Yes: per calendar month.", world["maria"].id)
    assert [m["body"] for m in answered.json["thread"]] == ["Is the rate per month?", "Yes: per calendar month."]
    assert db.session.scalars(select(OutgoingEmail.to).order_by(OutgoingEmail.id)).all()[-1] == \
        world["alice"].email
    # Answered once: a second answer is refused, and the thread is unchanged.
    assert error_of(api.post(f"{API}/disputes/{question['id']}/answer", headers=_as(world, "maria"),
                             json={"answer": "Again"}), 409)
    assert counts(DisputeMessage)["DisputeMessage"] == 2


def test_refused_questions_and_answers_write_nothing(api, world, factory):
    before = counts(Dispute, DisputeMessage, OutgoingEmail)
    assert error_of(_ask(api, world, document="carol_doc"), 404)  # another agent's document
    assert "comment" in error_of(_ask(api, world, comment="   "), 422)["fields"]
    assert counts(Dispute, DisputeMessage, OutgoingEmail) == before
    question = _ask(api, world).json
    assert error_of(_ask(api, world), 409), "one open question per document"
    after_question = counts(Dispute, DisputeMessage, OutgoingEmail)
    answer = {"answer": "Yes"}
    assert error_of(api.post(f"{API}/disputes/{question['id']}/answer", headers=_as(world, "olga"), json=answer), 404)
    assert error_of(api.post(f"{API}/disputes/{question['id']}/answer", headers=_as(world, "alice"), json=answer), 403)
    assert "answer" in error_of(api.post(f"{API}/disputes/{question['id']}/answer", headers=_as(world, "maria"),
                                         json={"answer": ""}), 422)["fields"]
    # A line's dispute is accepted or rejected, not answered.
    line = db.session.scalar(select(CommissionEntry.id).where(CommissionEntry.agent_id == world["alice"].id,
                                                              CommissionEntry.kind == EntryKind.SALE))
    dispute = api.post(f"{API}/disputes", headers=_as(world, "alice"), json={"entry_id": line, "comment": "Rate?"})
    after_dispute = counts(Dispute, DisputeMessage, OutgoingEmail)
    assert error_of(api.post(f"{API}/disputes/{dispute.json['id']}/answer", headers=_as(world, "maria"),
                             json=answer), 409)
    assert counts(Dispute, DisputeMessage, OutgoingEmail) == after_dispute != after_question
    # An acknowledged document takes no question.
    assert _acknowledge(api, world).status_code == 201
    assert "acknowledged" in error_of(_ask(api, world), 409)["message"]


# --- POST /operations/{operation_id}/retry --------------------------------------------------------


@pytest.fixture
def failed_operation(app, world, monkeypatch):
    """A plan recompute Maria started for her two agents, stopped by an error."""
    monkeypatch.setitem(app.config, "OPERATION_INLINE_LIMIT", 0)
    recompute_plan_agents(world["flat"].id, date(2026, 11, 1), actor=world["maria"])
    operation = started()
    operation.status, operation.error = OperationStatus.FAILED, "OperationalError: the database went away"
    db.session.commit()
    return operation


def test_a_failed_operation_is_queued_again_by_its_starter(api, world, failed_operation):
    url = f"{API}/operations/{failed_operation.id}/retry"
    response = api.post(url, headers=_as(world, "maria", admin="write"))
    assert response.status_code == 200, response.json
    assert (response.json["status"], response.json["error"]) == ("queued", None)
    assert jobs("operations") == [("jobs.operations.run_step", (failed_operation.id, 0))]
    # Queued, no longer failed: a second retry is refused and queues nothing more.
    assert "failed" in error_of(api.post(url, headers=_as(world, "admin")), 409)["message"]
    assert len(jobs("operations")) == 1


def test_an_operation_is_retried_only_by_who_may_follow_it_with_write_access(api, world, failed_operation,
                                                                                redis_down):
    url = f"{API}/operations/{failed_operation.id}/retry"
    assert error_of(api.post(url, headers=_as(world, "olga")), 404)
    assert error_of(api.post(url, headers=_as(world, "alice")), 403)
    error = error_of(api.post(url, headers=_as(world, "maria", "read")), 403)
    assert "admin:write" in error["message"], "a plan recompute changes plans: the admin area"
    assert error_of(api.post(url, headers=_as(world, "maria", sales="write", ledger="write", admin="read")), 403)
    assert error_of(api.post(url, headers=_as(world, "maria")), 503), "the job queue is down: nothing changed"
    db.session.expire_all()
    assert db.session.get(BackgroundOperation, failed_operation.id).status == OperationStatus.FAILED


# --- Statements: email again, render again --------------------------------------------------------


@pytest.fixture
def statement(world):
    """Alice's statement of November 1-15, rendered, its email failed."""
    run = start_period_run(None, period_for(date(2026, 11, 1)))
    db.session.commit()
    [issued] = [s for s in run.statements if s.agent_id == world["alice"].id]
    render_statement(issued.id)
    email = db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.statement_id == issued.id))
    email.status, email.last_error = "failed", "ApiClientError: 500"
    db.session.commit()
    for queue in ("default", "emails"):
        Queue(queue, connection=redis_client()).empty()
    return issued


def test_a_failed_statement_email_is_sent_again(api, world, statement):
    response = api.post(f"{API}/statements/{statement.id}/resend", headers=_as(world, "alice"))
    assert response.status_code == 200, response.json
    assert (response.json["id"], response.json["email_status"]) == (statement.id, "queued")
    email = db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.statement_id == statement.id))
    assert jobs("emails") == [("jobs.mail.deliver_email", (email.id,))]
    # Queued now, it may go at any moment: not sent again.
    assert error_of(api.post(f"{API}/statements/{statement.id}/resend", headers=_as(world, "maria")), 409)
    assert len(jobs("emails")) == 1


def test_resending_is_scoped_and_refused_without_write_access(api, world, statement, redis_down):
    url = f"{API}/statements/{statement.id}/resend"
    assert error_of(api.post(url, headers=_as(world, "olga")), 404)
    assert error_of(api.post(url, headers=_as(world, "alice", "read")), 403)
    assert error_of(api.post(url, headers=_as(world, "alice")), 503)
    db.session.expire_all()
    assert db.session.scalar(select(OutgoingEmail.status).where(OutgoingEmail.statement_id == statement.id)) == "failed"


def test_a_failed_pdf_is_rendered_again_by_a_manager(api, world, statement):
    url = f"{API}/statements/{statement.id}/render"
    assert "failed" in error_of(api.post(url, headers=_as(world, "maria")), 409)["message"], "rendered: refused"
    statement.status, statement.render_error = StatementStatus.FAILED, "OSError: font missing"
    db.session.commit()
    assert error_of(api.post(url, headers=_as(world, "alice")), 403)
    assert error_of(api.post(url, headers=_as(world, "olga")), 404)
    response = api.post(url, headers=_as(world, "maria"))
    assert response.status_code == 200, response.json
    assert response.json["status"] == "pending"
    assert jobs("default") == [("jobs.statements.render_statement", (statement.id,))]


# --- SPIFF recomputes: follow and retry ----------------------------------------------------------


def test_a_spiff_change_in_the_background_is_followed_and_retried(api, world, factory, monkeypatch):
    monkeypatch.setattr(recompute, "SYNC_LIMIT", 0)  # every agent-month goes to the background job
    product = factory.product(name="Printer")
    factory.sale(world["alice"], "100.00", date(2026, 11, 5), product=product)
    admin = _as(world, "admin")
    Queue("default", connection=redis_client()).empty()  # the world's plan documents' renders
    made = api.post(f"{API}/spiffs", headers=admin, json={
        "name": "Printer push", "first_day": "2026-11-01", "last_day": "2026-11-30", "per_unit": "5.00",
        "product_ids": [product.id]})
    assert made.status_code == 201, made.json
    assert (made.json["recompute_pending"], made.json["recomputed"]) == (True, 0)
    url = f"{API}/spiffs/{made.json['spiff']['id']}/recomputes/{made.json['recompute_id']}"
    assert jobs("default") == [("jobs.spiffs.recompute_spiff_change", (made.json["recompute_id"],))]
    queued = api.get(url, headers=admin)
    assert (queued.json["status"], queued.json["total"], queued.json["done"]) == ("queued", 1, 0)
    recompute.run_recompute(made.json["recompute_id"])
    assert api.get(url, headers=admin).json["status"] == "done"
    # Done: a retry leaves it as it is and queues nothing.
    Queue("default", connection=redis_client()).empty()
    assert api.post(f"{url}/retry", headers=admin).json["status"] == "done" and jobs("default") == []
    run = db.session.get(SpiffRecompute, made.json["recompute_id"])
    run.status, run.error = "failed", "OperationalError: the database went away"
    db.session.commit()
    failed = api.get(url, headers=admin).json
    assert (failed["status"], failed["error"]) == ("failed", "OperationalError: the database went away")
    retried = api.post(f"{url}/retry", headers=admin)
    assert retried.status_code == 200 and retried.json["status"] == "queued"
    assert jobs("default") == [("jobs.spiffs.recompute_spiff_change", (run.id,))]
    assert error_of(api.post(f"{url}/retry", headers=_as(world, "maria")), 403)
    other = api.post(f"{API}/spiffs", headers=admin, json={
        "name": "Other push", "first_day": "2026-11-01", "last_day": "2026-11-30", "per_unit": "1.00",
        "product_ids": [product.id]}).json["spiff"]["id"]
    assert error_of(api.get(f"{API}/spiffs/{other}/recomputes/{run.id}", headers=admin), 404)


def test_a_rate_written_with_leading_zeros_is_taken_as_the_document_says(api, world):
    # The document's rate pattern is the exact set taken: up to eleven digits before the point,
    # 0 to 100; "0050" is 50, "100.0001" is refused beside the field.
    url = _version_url(world["unused"])
    taken = api.put(url, headers=_as(world, "admin"), json={"base_rate": "0050"})
    assert taken.status_code == 200 and taken.json["base_rate"] == "50", taken.json
    assert "base_rate" in error_of(api.put(url, headers=_as(world, "admin"), json={"base_rate": "100.0001"}),
                                   422)["fields"]


# --- POST /plans/simulate -----------------------------------------------------------------------


SIMULATED = "date,amount,sku,category\n2026-11-03,1000.00,,\n2026-11-04,4000.00,,\n2026-12-01,500.00,,\n"


def test_a_plan_is_simulated_on_sales_and_nothing_is_written(api, world):
    admin = _as(world, "admin")
    before = counts(CommissionEntry, PlanVersion, AuditEvent)
    typed = api.post(f"{API}/plans/simulate", headers=admin, json={
        "tiers": [{"start": "0", "rate": "2"}, {"start": "3000", "rate": "4"}], "tier_mode": "marginal",
        "sales_csv": SIMULATED})
    assert typed.status_code == 200, typed.json
    november, december = typed.json["months"]
    # Marginal: 1000 at 2% = 20.00; then 2000 at 2% + 2000 at 4% = 120.00.
    assert [line["commission"] for line in november["lines"]] == ["20.00", "120.00"]
    assert (november["commission"], december["commission"], typed.json["commission"]) == ("140.00", "10.00",
                                                                                           "150.00")
    assert november["lines"][0]["words"] and november["lines"][1]["sold_on"] == "2026-11-04"
    stored = api.post(f"{API}/plans/simulate", headers=admin, json={
        "version_id": world["flat"].versions[0].id, "sales_csv": SIMULATED})
    assert stored.json["commission"] == "165.00"  # 3% of 5,500.00
    assert counts(CommissionEntry, PlanVersion, AuditEvent) == before


@pytest.mark.parametrize("body, field", [
    ({"sales_csv": SIMULATED}, "version_id"),                                        # neither rules nor a version
    ({"base_rate": "3", "sales_csv": "date,amount\n2026-11-03,1\n"}, "sales_csv"),             # no sku, category
    ({"base_rate": "3", "sales_csv": "date,amount,sku,category\n2026-13-03,10,,\n"}, "sales_csv"),  # no 13th month
    ({"base_rate": "120", "sales_csv": SIMULATED}, "base_rate"),
    ({"version_id": 999999, "sales_csv": SIMULATED}, "version_id"),
    ({"base_rate": "3", "sales_csv": SIMULATED, "target": "0.00"}, "target"),
    ({"base_rate": "3", "version_id": 1, "sales_csv": SIMULATED}, "version_id"),     # both: which one?
    ({"category_rates": [{"category_id": 1, "rate": "5"}], "version_id": 1, "sales_csv": SIMULATED}, "version_id"),
])
def test_a_refused_simulation_names_the_field(api, world, body, field):
    response = api.post(f"{API}/plans/simulate", headers=_as(world, "admin"), json=body)
    assert field in error_of(response, 422)["fields"]
    assert error_of(api.post(f"{API}/plans/simulate", headers=_as(world, "maria"), json=body), 403)
