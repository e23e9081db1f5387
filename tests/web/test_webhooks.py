"""Outgoing webhooks (issue 17, item 2): endpoints registered through the API and the admin page,
events collected from the audit log, signed deliveries to a real receiver on loopback, retries with
backoff after a 500, giving up after about a day, "send again", and the catch-up list."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update

from tests.web._api import API, count, error_of, headers_for
from tests.web._html import field_error, flash_messages, html_of, main_text, redirect_path, tags
from jobs.webhooks import collect
from webapp.audit.models import AuditEvent
from webapp.audit.services import record
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.mail.models import EmailStatus, OutgoingEmail
from webapp.webhooks import sending, services as webhooks, signing
from webapp.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent

TODAY = date(2026, 11, 20)
NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class Receiver:
    """An HTTP server on loopback that keeps every POST and answers with the statuses it is given
    in turn (then 200)."""

    def __init__(self):
        self.received: list[dict] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802  (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body})
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"receiver is down")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def world(build, factory, at):
    """Maria manages Alice; an admin; a product and a customer; the clock at noon."""
    build.on(TODAY)
    at(NOON)
    maria, (alice,) = build.team("Maria", "Alice")
    return {"maria": maria, "alice": alice, "admin": factory.user("admin"),
            "product": factory.product(name="Monitor"), "customer": factory.customer("Clinic North")}


def sale_body(world) -> dict:
    """A valid sale for Alice."""
    return {"product_id": world["product"].id, "customer_id": world["customer"].id, "quantity": 1,
            "unit_price": "450.00", "sold_on": "2026-11-18"}


def register(api, world, url: str, types: list[str]) -> dict:
    """Register an endpoint through the API as the admin; its answer (with the secret)."""
    made = api.post(f"{API}/webhooks", headers=headers_for(world["admin"]), json={"url": url, "event_types": types})
    assert made.status_code == 201, made.json
    return made.json


def delivery_of(endpoint_id: int, event_type: str) -> WebhookDelivery:
    """The endpoint's one delivery of an event of `event_type`."""
    return db.session.scalars(select(WebhookDelivery).join(WebhookEvent).where(
        WebhookDelivery.endpoint_id == endpoint_id, WebhookEvent.type == event_type)).one()


def test_a_sale_reaches_a_real_receiver_signed_and_is_retried_after_a_500(api, world, receiver, at):
    endpoint = register(api, world, receiver.url, ["sale.created", "sale.approved"])
    assert endpoint["secret"].startswith("whsec_") and "secret" not in api.get(
        f"{API}/webhooks/{endpoint['id']}", headers=headers_for(world["admin"])).json
    sale = api.post(f"{API}/sales", headers=headers_for(world["alice"]), json=sale_body(world)).json

    assert collect() >= 1
    receiver.answers = [500]
    assert sending.deliver_endpoint(endpoint["id"]) == 1
    delivery = delivery_of(endpoint["id"], "sale.created")
    assert (delivery.status, delivery.attempts, delivery.last_status) == (DeliveryStatus.PENDING, 1, 500)
    assert delivery.last_response == "receiver is down"
    assert delivery.next_attempt_at == NOON + timedelta(minutes=1)
    assert sending.deliver_endpoint(endpoint["id"]) == 0, "not due again before its backoff"

    at(NOON + timedelta(seconds=61))
    assert sending.queue_due() == 1
    assert sending.deliver_endpoint(endpoint["id"]) == 1
    db.session.refresh(delivery)
    assert (delivery.status, delivery.attempts, delivery.last_status) == (DeliveryStatus.SUCCEEDED, 2, 200)

    first, second = receiver.received
    assert first["body"] == second["body"], "a retry sends the same event"
    event = json.loads(second["body"])
    assert event["type"] == "sale.created" and event["data"]["id"] == sale["id"]
    assert (event["data"]["agent_id"], event["data"]["amount"], event["data"]["url"]) == (
        world["alice"].id, "450.00", f"/api/v1/sales/{sale['id']}")
    headers = second["headers"]
    assert headers["Sales-Tracking-Event-Id"] == str(event["id"])
    assert signing.verify(endpoint["secret"], second["body"], headers["Sales-Tracking-Signature"])
    assert not signing.verify(endpoint["secret"], second["body"] + b" ", headers["Sales-Tracking-Signature"])
    assert not signing.verify("whsec_other", second["body"], headers["Sales-Tracking-Signature"])
    stamp = int(headers["Sales-Tracking-Signature"].split(",")[0][2:])
    assert not signing.verify(endpoint["secret"], second["body"], headers["Sales-Tracking-Signature"],
                              now=stamp + signing.TOLERANCE + 1), "outside the replay window"

    # A client that missed it catches up from the event list, and nothing waits after it.
    admin = headers_for(world["admin"])
    listed = api.get(f"{API}/events?type=sale.created", headers=admin).json
    assert [e["id"] for e in listed["items"]] == [event["id"]] and listed["items"][0] == event
    assert api.get(f"{API}/events?after={event['id']}", headers=admin).json == {"items": [], "next_cursor": None}


def test_a_delivery_gives_up_after_a_day_of_retries_and_is_sent_again_from_the_page(
        api, app, world, receiver, at):
    from tests.conftest import browser_as

    endpoint = register(api, world, receiver.url, ["sale.created"])
    api.post(f"{API}/sales", headers=headers_for(world["alice"]), json=sale_body(world))
    collect()
    receiver.answers = [503] * 7
    moment = NOON
    for backoff in (*sending.BACKOFF, None):
        assert sending.deliver_endpoint(endpoint["id"]) == 1
        if backoff is not None:
            moment = at(moment + timedelta(seconds=backoff))
    delivery = delivery_of(endpoint["id"], "sale.created")
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.FAILED, 7, None)
    assert moment - NOON > timedelta(hours=22), "retried for about a day"
    at(moment + timedelta(days=2))
    assert sending.queue_due() == 0 and sending.deliver_endpoint(endpoint["id"]) == 0

    admin = browser_as(app, world["admin"])
    page = admin.get(f"/admin/webhooks/{endpoint['id']}?status=failed")
    assert page.status_code == 200 and "503 at" in main_text(html_of(page)) and "Send again" in html_of(page)
    sent = admin.post(f"/admin/webhooks/{endpoint['id']}/deliveries/{delivery.id}/send-again",
                      token_from=f"/admin/webhooks/{endpoint['id']}")
    assert redirect_path(sent) == f"/admin/webhooks/{endpoint['id']}"
    assert sending.deliver_endpoint(endpoint["id"]) == 1
    db.session.refresh(delivery)
    assert (delivery.status, delivery.attempts, len(receiver.received)) == (DeliveryStatus.SUCCEEDED, 8, 8)


def test_only_active_subscribed_endpoints_get_an_event_and_collecting_twice_makes_it_once(api, world, receiver):
    sales_hook = register(api, world, receiver.url, ["sale.created"])
    payouts_hook = register(api, world, receiver.url + "/payouts", ["payout.recorded"])
    off = register(api, world, receiver.url + "/off", ["sale.created"])
    api.patch(f"{API}/webhooks/{off['id']}", headers=headers_for(world["admin"]), json={"active": False})
    api.post(f"{API}/sales", headers=headers_for(world["alice"]), json=sale_body(world))

    made = collect()
    assert made >= 1 and collect() == 0
    assert count(WebhookEvent) == made
    by_endpoint = {e: db.session.scalars(select(WebhookEvent.type).join(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == e)).all() for e in (sales_hook["id"], payouts_hook["id"], off["id"])}
    assert by_endpoint == {sales_hook["id"]: ["sale.created"], payouts_hook["id"]: [], off["id"]: []}
    # Audit events that are no webhook event (a token made, a customer added) make none.
    assert set(db.session.scalars(select(WebhookEvent.type))) == {"sale.created"}


def test_events_are_collected_after_a_stopped_clock_and_from_a_transaction_that_committed_late(world):
    def audit(action: str, **fields) -> AuditEvent:
        event = AuditEvent(actor_id=world["maria"].id, action=action, object_type="Sale", object_id=7,
                           after={"agent_id": world["alice"].id}, **fields)
        db.session.add(event)
        db.session.flush()
        return event

    first = audit("sale.approve")
    collect()
    # The scheduler was stopped for hours: what was audited meanwhile is still collected.
    gap = audit("sale.reject", at=datetime.now(UTC) - timedelta(hours=3))
    # A long transaction that got a high id early committed first; then this lower id appears.
    high = audit("sale.void", id=first.id + 1000)
    collect()
    late = audit("sale.approve", id=first.id + 500)  # below the last collected, as PostgreSQL would give it
    collect()
    collected = {e.source_id: e.type for e in db.session.scalars(select(WebhookEvent))}
    assert collected == {first.id: "sale.approved", gap.id: "sale.rejected", high.id: "sale.voided",
                         late.id: "sale.approved"}


def test_a_backlog_is_collected_in_batches_by_one_tick(world, monkeypatch):
    monkeypatch.setattr(webhooks, "COLLECT_BATCH", 2)
    db.session.add_all(AuditEvent(actor_id=world["maria"].id, action="sale.approve", object_type="Sale",
                                  object_id=n, after={"agent_id": world["alice"].id}) for n in range(5))
    db.session.flush()
    assert collect() == 5 and count(WebhookEvent) == 5


def test_statement_issue_delivery_and_dispute_outcomes_become_events(world, monkeypatch):
    from webapp.statements import pdf
    from webapp.statements.rendering import render_statement
    from webapp.statements.services import start_adhoc_run

    agent = world["alice"]
    monkeypatch.setattr(pdf, "html_to_pdf", lambda html: b"%PDF-1.7 test")
    [statement] = start_adhoc_run(world["maria"], agent_ids=[agent.id], start=date(2026, 11, 1),
                                  end=date(2026, 11, 19)).statements
    other = OutgoingEmail(key="other", to=agent.email, subject="Hello", text="-", status=EmailStatus.QUEUED)
    db.session.add(other)
    db.session.flush()
    render_statement(statement.id)
    email = db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.statement_id == statement.id)).one()
    email.status = other.status = EmailStatus.SENT
    db.session.flush()
    email.status = EmailStatus.REJECTED  # bounced after the provider took it
    db.session.flush()
    email.status = EmailStatus.REJECTED  # unchanged: no second event
    db.session.flush()
    record(world["maria"], "dispute.reject", agent, None, {"agent_id": agent.id, "status": "rejected"})
    db.session.flush()
    collect()

    events = [(e.type, e.data) for e in db.session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))]
    assert [kind for kind, _ in events] == ["statement.issued", "statement.delivered", "statement.delivery_failed",
                                           "dispute.resolved"], "the other email is no event"
    issued, delivered, failed, resolved = (data for _, data in events)
    assert (issued["id"], issued["agent_id"], issued["number"], issued["actor_id"]) == (
        statement.id, agent.id, statement.number, None)
    assert delivered["url"] == failed["url"] == f"/api/v1/statements/{statement.id}"
    assert (resolved["outcome"], resolved["actor_id"]) == ("rejected", world["maria"].id)


def test_a_delivery_a_dead_worker_left_sending_is_sent_again_after_three_minutes(api, app, world, receiver, at):
    from tests.conftest import browser_as

    endpoint = register(api, world, receiver.url, ["sale.created"])
    api.post(f"{API}/sales", headers=headers_for(world["alice"]), json=sale_body(world))
    collect()
    delivery = delivery_of(endpoint["id"], "sale.created")
    delivery.status, delivery.attempts, delivery.last_attempt_at = DeliveryStatus.SENDING, 1, NOON
    db.session.flush()
    assert sending.deliver_endpoint(endpoint["id"]) == 0, "another worker may still be sending it"
    assert error_of(api.post(f"{API}/webhooks/{endpoint['id']}/deliveries/{delivery.id}/send-again",
                             headers=headers_for(world["admin"])), 409)
    page = browser_as(app, world["admin"])
    assert "Send again" not in html_of(page.get(f"/admin/webhooks/{endpoint['id']}"))
    at(NOON + sending.SENDING_ABANDONED_AFTER)
    assert "Send again" in html_of(page.get(f"/admin/webhooks/{endpoint['id']}")), "its worker died: a person may"
    assert sending.deliver_endpoint(endpoint["id"]) == 1
    db.session.refresh(delivery)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)


def test_a_failing_receiver_gets_one_attempt_per_run_and_old_events_are_deleted(api, world, receiver):
    endpoint = register(api, world, receiver.url, ["sale.created"])
    for _ in range(3):
        api.post(f"{API}/sales", headers=headers_for(world["alice"]), json=sale_body(world))
    collect()
    receiver.answers = [500]
    assert sending.deliver_endpoint(endpoint["id"]) == 1, "the others wait rather than fail at once"
    assert sending.deliver_endpoint(endpoint["id"]) == 2, "the receiver is back: the rest go"
    assert len(receiver.received) == 3

    events = list(db.session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))
    events[0].created_at = datetime.now(UTC) - webhooks.RETENTION - timedelta(minutes=1)
    db.session.flush()
    assert webhooks.prune() == 1
    assert count(WebhookEvent) == 2 and count(WebhookDelivery) == 2
    # All of them old (a quiet month): the newest stays, so collecting goes on after it.
    for event in events[1:]:
        event.created_at = datetime.now(UTC) - webhooks.RETENTION - timedelta(minutes=1)
    db.session.flush()
    assert webhooks.prune() == 1
    assert list(db.session.scalars(select(WebhookEvent.id))) == [events[-1].id]


def test_an_unreachable_endpoint_is_logged_and_retried(api, world, receiver):
    receiver.close()  # nothing listens there any more
    endpoint = register(api, world, receiver.url, ["sale.created"])
    api.post(f"{API}/sales", headers=headers_for(world["alice"]), json=sale_body(world))
    collect()
    assert sending.deliver_endpoint(endpoint["id"]) == 1
    delivery = delivery_of(endpoint["id"], "sale.created")
    assert (delivery.status, delivery.last_status) == (DeliveryStatus.PENDING, None)
    assert delivery.last_response.startswith("ConnectionError")
    receiver.server = receiver.thread = None
    receiver.close = lambda: None


def test_in_production_no_webhook_goes_inside_the_network(api, app, world, receiver, monkeypatch):
    endpoint = register(api, world, receiver.url, ["sale.created"])  # allowed while developing
    monkeypatch.setitem(app.config, "WEBHOOK_PRIVATE_TARGETS", False)
    for url in ("http://127.0.0.1:8080/hooks", "http://169.254.169.254/latest", "http://localhost/hooks"):
        error = error_of(api.post(f"{API}/webhooks", headers=headers_for(world["admin"]),
                                  json={"url": url, "event_types": ["sale.created"]}), 422)
        assert "inside your network" in error["fields"]["url"]
    api.post(f"{API}/sales", headers=headers_for(world["alice"]), json=sale_body(world))
    collect()
    assert sending.deliver_endpoint(endpoint["id"]) == 1
    delivery = delivery_of(endpoint["id"], "sale.created")
    assert (delivery.status, delivery.last_status, receiver.received) == (DeliveryStatus.PENDING, None, [])
    assert delivery.last_response.startswith("Not sent: 127.0.0.1 resolves to 127.0.0.1")


def test_a_resolver_that_does_not_answer_holds_neither_the_request_nor_a_send(api, app, world, receiver,
                                                                             monkeypatch):
    """Adding an endpoint does not wait on it (the check before each send is the one that counts),
    and a send whose address cannot be checked is not made: retried after the backoff."""
    endpoint = register(api, world, receiver.url, ["sale.created"])
    api.post(f"{API}/sales", headers=headers_for(world["alice"]), json=sale_body(world))
    collect()
    monkeypatch.setitem(app.config, "WEBHOOK_PRIVATE_TARGETS", False)
    monkeypatch.setattr(sending, "RESOLVE_TIMEOUT", 0.05)
    released = threading.Event()

    def unanswered(*_args, **_kwargs):
        """A resolver that answers only once the test is over."""
        released.wait(30)
        raise OSError("the resolver gave up")

    monkeypatch.setattr(sending, "resolve", unanswered)
    try:
        added = api.post(f"{API}/webhooks", headers=headers_for(world["admin"]),
                         json={"url": "https://crm.example.com/hooks", "event_types": ["sale.created"]})
        assert added.status_code == 201, added.json
        assert sending.deliver_endpoint(endpoint["id"]) == 1
        delivery = delivery_of(endpoint["id"], "sale.created")
        assert (delivery.status, delivery.last_status, receiver.received) == (DeliveryStatus.PENDING, None, [])
        assert delivery.last_response == "Not sent: 127.0.0.1 did not resolve within 0.05 s."
    finally:
        released.set()


def test_any_failure_to_send_is_recorded_and_retried_never_left_sending(api, world, receiver, monkeypatch):
    endpoint = register(api, world, receiver.url, ["sale.created"])
    api.post(f"{API}/sales", headers=headers_for(world["alice"]), json=sale_body(world))
    collect()

    def broken(*args, **kwargs):
        raise ValueError("Failed to parse: crm..example.com")

    monkeypatch.setattr(sending.requests, "post", broken)
    assert sending.deliver_endpoint(endpoint["id"]) == 1
    delivery = delivery_of(endpoint["id"], "sale.created")
    assert (delivery.status, delivery.failures) == (DeliveryStatus.PENDING, 1)
    assert delivery.last_response == "ValueError: Failed to parse: crm..example.com"


def test_send_again_reads_the_delivery_as_it_is_now(api, world, receiver):
    endpoint = register(api, world, receiver.url, ["sale.created"])
    api.post(f"{API}/sales", headers=headers_for(world["alice"]), json=sale_body(world))
    collect()
    delivery = delivery_of(endpoint["id"], "sale.created")
    assert delivery.status == DeliveryStatus.PENDING
    # A worker claims it after this request loaded it.
    # (As SQL on the connection: an ORM update would bring the loaded object up to date too.)
    table = WebhookDelivery.__table__
    db.session.connection().execute(update(table).where(table.c.id == delivery.id).values(
        status=DeliveryStatus.SENDING, attempts=1, last_attempt_at=NOON))
    with pytest.raises(ServiceError) as refused:
        webhooks.send_again(world["admin"], delivery)
    assert refused.value.status == 409


def test_the_secret_is_answered_once_and_never_audited(api, world, receiver):
    endpoint = register(api, world, receiver.url, ["sale.created"])
    admin = headers_for(world["admin"])
    api.patch(f"{API}/webhooks/{endpoint['id']}", headers=admin, json={"description": "CRM"})
    answers = [api.get(f"{API}/webhooks", headers=admin).get_data(as_text=True),
               api.get(f"{API}/webhooks/{endpoint['id']}", headers=admin).get_data(as_text=True)]
    audited = [json.dumps([e.before, e.after]) for e in db.session.scalars(select(AuditEvent))]
    assert [text for text in answers + audited if endpoint["secret"] in text] == []
    assert any("webhook.update" == e.action for e in db.session.scalars(select(AuditEvent)))


# --- The API -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://crm.example.com/hooks", "event_types": ["sale.created"]}, "url"),
    ({"url": "/hooks", "event_types": ["sale.created"]}, "url"),
    ({"url": "https://crm example.com/hooks", "event_types": ["sale.created"]}, "url"),
    ({"url": "https://crm..example.com/hooks", "event_types": ["sale.created"]}, "url"),
    ({"url": "http://[abc", "event_types": ["sale.created"]}, "url"),
    ({"url": "https://", "event_types": ["sale.created"]}, "url"),
    ({"url": "https://crm.example.com/hooks", "event_types": []}, "event_types"),
    ({"url": "https://crm.example.com/hooks", "event_types": ["sale.sold"]}, "event_types"),
    ({"url": "https://crm.example.com/hooks"}, "event_types"),
    ({"url": "https://crm.example.com/hooks", "event_types": ["sale.created"], "description": "x" * 201},
     "description"),
])
def test_a_bad_endpoint_is_422_naming_the_field_and_nothing_is_written(api, world, body, field):
    before = count(WebhookEndpoint)
    error = error_of(api.post(f"{API}/webhooks", headers=headers_for(world["admin"]), json=body), 422)
    assert any(name.split(".")[0] == field for name in error["fields"]), error  # event_types.0: the first item
    assert count(WebhookEndpoint) == before


def test_only_admins_use_webhooks_and_unknown_ids_are_404(api, world, receiver):
    endpoint = register(api, world, receiver.url, ["sale.created"])
    for who in ("maria", "alice"):
        headers = headers_for(world[who])
        assert error_of(api.get(f"{API}/webhooks", headers=headers), 403)
        assert error_of(api.get(f"{API}/events", headers=headers), 403)
        assert error_of(api.post(f"{API}/webhooks", headers=headers,
                                 json={"url": receiver.url, "event_types": ["sale.created"]}), 403)
    admin = headers_for(world["admin"])
    assert error_of(api.get(f"{API}/webhooks/{endpoint['id'] + 1000}", headers=admin), 404)
    assert error_of(api.patch(f"{API}/webhooks/{endpoint['id'] + 1000}", headers=admin, json={"active": False}), 404)
    other = register(api, world, receiver.url + "/other", ["sale.created"])
    api.post(f"{API}/sales", headers=headers_for(world["alice"]), json=sale_body(world))
    collect()
    theirs = delivery_of(other["id"], "sale.created")
    before = db.session.scalar(select(WebhookDelivery.next_attempt_at).where(WebhookDelivery.id == theirs.id))
    assert error_of(api.post(f"{API}/webhooks/{endpoint['id']}/deliveries/{theirs.id}/send-again",
                             headers=admin), 404), "a delivery of another endpoint"
    assert db.session.scalar(select(WebhookDelivery.next_attempt_at).where(WebhookDelivery.id == theirs.id)) == before


def test_an_endpoint_is_listed_changed_and_its_log_paged(api, world, receiver):
    admin = headers_for(world["admin"])
    endpoint = register(api, world, receiver.url, ["sale.created"])
    changed = api.patch(f"{API}/webhooks/{endpoint['id']}", headers=admin,
                        json={"event_types": ["sale.approved", "sale.created"], "description": "CRM"})
    assert (changed.json["event_types"], changed.json["description"]) == (["sale.created", "sale.approved"], "CRM")
    assert api.patch(f"{API}/webhooks/{endpoint['id']}", headers=admin,
                     json={"description": ""}).json["description"] is None
    assert [e["id"] for e in api.get(f"{API}/webhooks", headers=admin).json["items"]] == [endpoint["id"]]
    for _ in range(3):
        api.post(f"{API}/sales", headers=headers_for(world["alice"]), json=sale_body(world))
    collect()
    first = api.get(f"{API}/webhooks/{endpoint['id']}/deliveries?limit=2", headers=admin).json
    rest = api.get(f"{API}/webhooks/{endpoint['id']}/deliveries?limit=2&cursor={first['next_cursor']}",
                   headers=admin).json
    events = [d["event_id"] for d in first["items"] + rest["items"]]
    assert len(events) == 3 and events == sorted(events, reverse=True) and rest["next_cursor"] is None
    assert {d["status"] for d in first["items"]} == {"pending"}
    assert api.get(f"{API}/webhooks/{endpoint['id']}/deliveries?status=failed", headers=admin).json["items"] == []
    paged = api.get(f"{API}/events?limit=2", headers=admin).json
    assert len(paged["items"]) == 2 and paged["next_cursor"] == str(paged["items"][-1]["id"])


# --- The pages ----------------------------------------------------------------------------------------


def test_an_admin_adds_an_endpoint_on_the_page_with_errors_beside_the_fields(app, world):
    from tests.conftest import browser_as

    admin = browser_as(app, world["admin"])
    refused = admin.post("/admin/webhooks", {"url": "crm.example.com", "description": "CRM"})
    assert refused.status_code == 422
    html = html_of(refused)
    assert field_error(html, "url").startswith("Enter a full http:// or https:// URL")
    assert field_error(html, "event_types") == "Choose at least one event type."
    assert count(WebhookEndpoint) == 0

    added = admin.post("/admin/webhooks", {"url": "https://crm.example.com/hooks", "description": "CRM",
                                           "event_types": ["sale.created", "period.closed"]})
    endpoint = db.session.scalars(select(WebhookEndpoint)).one()
    assert redirect_path(added) == f"/admin/webhooks/{endpoint.id}"
    assert (endpoint.types, endpoint.active) == (["sale.created", "period.closed"], True)
    page = admin.get(f"/admin/webhooks/{endpoint.id}")
    assert [t.attrs["value"] for t in tags(html_of(page), "input")
            if t.attrs.get("name") == "event_types" and "checked" in t.attrs] == ["sale.created", "period.closed"]
    assert endpoint.secret in html_of(page) and "No deliveries yet" in main_text(html_of(page))
    assert "https://crm.example.com/hooks" in main_text(html_of(admin.get("/admin/webhooks")))

    for _ in range(2):  # a second click (or an old tab) changes nothing more
        admin.post(f"/admin/webhooks/{endpoint.id}/active", {"active": "0"}, token_from=f"/admin/webhooks/{endpoint.id}")
    db.session.refresh(endpoint)
    assert endpoint.active is False
    assert admin.get(f"/admin/webhooks/{endpoint.id}?before=99999999999999999999").status_code == 200
    saved = admin.post(f"/admin/webhooks/{endpoint.id}", {"event_types": ["dispute.opened"], "description": ""})
    assert "Endpoint saved." in flash_messages(html_of(admin.get(redirect_path(saved))))
    db.session.refresh(endpoint)
    assert (endpoint.types, endpoint.description) == (["dispute.opened"], None)


def test_webhook_pages_are_the_admins_only(app, world):
    from tests.conftest import browser_as

    for who in ("alice", "maria"):
        assert browser_as(app, world[who]).get("/admin/webhooks").status_code in (403, 404)
