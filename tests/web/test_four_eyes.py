"""Four eyes on every decision: whoever entered a sale can neither approve, reject nor void it, on
the review pages (single and bulk), the sale and agent pages, the API, and for sales made by a CSV
import; the refusal says who may decide instead and writes nothing."""

from __future__ import annotations

import io
import uuid
from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from tests.conftest import Browser, browser_as
from tests.web._api import API, error_of, headers_for
from tests.web._html import by_id, flash_messages, tags, text_of, within
from webapp.audit.models import AuditEvent
from webapp.commissions.models import CommissionEntry
from webapp.commissions.periods import get_settings
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.sales import services as sales
from webapp.sales.models import Sale

TODAY = date(2026, 11, 20)
REFUSAL = "You entered this sale; another manager or an admin must decide it."
ROW = {"HX-Request": "true"}


@pytest.fixture
def team(app, build, factory):
    """Maria manages Ann and Ben (3%); an admin; Maria's and the admin's browsers."""
    build.on(TODAY)
    maria, (ann, ben) = build.team("Maria Manager", "Ann Agent <ann@example.com>", "Ben Agent")
    admin = factory.user("admin", name="Ada Admin")
    product = factory.product(sku="WID-1", name="Widget", list_price_cents=10_000)
    return {"maria": maria, "ann": ann, "ben": ben, "admin": admin, "product": product,
            "customer": factory.customer("Acme"), "browser": browser_as(app, maria),
            "admin_browser": browser_as(app, admin)}


def _sale(team, entered_by, agent=None, *, approved: bool = False) -> Sale:
    """A sale of Ann's (or `agent`'s) entered by `entered_by`; approved by someone else when asked."""
    agent = agent or team["ann"]
    sale, _ = sales.create_sale(entered_by, sales.SaleInput(
        product_id=team["product"].id, quantity=1, unit_price=Decimal("500.00"), sold_on=date(2026, 11, 18),
        customer_id=team["customer"].id), idempotency_key=uuid.uuid4().hex,
        agent_id=None if entered_by is agent else agent.id)
    if approved:
        other = team["admin"] if entered_by is not team["admin"] else team["maria"]
        sales.approve_sale(other, sale)
    db.session.commit()
    return sale


def _state() -> dict:
    """Everything a decision writes: each sale's status, reason and decider, ledger, audit, email."""
    db.session.expire_all()
    return {
        "sales": db.session.execute(select(Sale.id, Sale.status, Sale.reason, Sale.decided_by_id,
                                           Sale.decided_at).order_by(Sale.id)).all(),
        "entries": db.session.execute(select(CommissionEntry.id, CommissionEntry.amount_cents)
                                      .order_by(CommissionEntry.id)).all(),
        "audit": db.session.scalar(select(func.count()).select_from(AuditEvent)
                                   .where(AuditEvent.action.not_like("api_token.%"))),
        "emails": db.session.scalar(select(func.count()).select_from(OutgoingEmail)),
    }


def _status(sale: Sale) -> str:
    """The sale's status as the database has it now."""
    db.session.expire_all()
    return db.session.get(Sale, sale.id).status


# --- the services -----------------------------------------------------------------------------------

@pytest.mark.parametrize("decision", ["reject", "void"])
def test_the_services_refuse_a_decision_on_a_sale_you_entered(team, decision):
    for enterer, other in ((team["maria"], team["admin"]), (team["admin"], team["maria"])):
        sale = _sale(team, enterer, approved=decision == "void")
        before = _state()
        decide = sales.reject_sale if decision == "reject" else sales.void_sale
        with pytest.raises(ServiceError) as refused:
            decide(enterer, sale, "Customer changed their mind")
        assert (refused.value.status, refused.value.message) == (403, REFUSAL)
        db.session.rollback()
        assert _state() == before
        decide(other, sale, "Customer changed their mind")
        assert sale.status == ("rejected" if decision == "reject" else "voided")


def test_an_agents_own_sale_is_still_decided_by_their_manager(team):
    sale = _sale(team, team["ann"])
    assert sales.reject_sale(team["maria"], sale, "No signature").status == "rejected"


# --- the review queue -------------------------------------------------------------------------------

@pytest.mark.parametrize("htmx", [True, False])
def test_rejecting_a_sale_you_entered_is_refused_on_its_row(team, htmx):
    mine = _sale(team, team["maria"])
    before = _state()
    response = team["browser"].post(f"/manage/review/{mine.id}/reject", {"reason": "Duplicate"},
                                    token_from="/manage/review", headers=ROW if htmx else {})
    assert response.status_code == 403
    assert REFUSAL in response.get_data(as_text=True)
    assert _state() == before and _status(mine) == "pending"


def test_the_queue_row_of_a_sale_you_entered_offers_neither_approve_nor_reject(team):
    mine = _sale(team, team["maria"])
    html = team["browser"].get("/manage/review").get_data(as_text=True)
    page = tags(html)
    row = next(t for t in page if t.attrs.get("id") == f"sale-row-{mine.id}")
    buttons = {text_of(b): b for b in within(row, page, "button")}
    assert "disabled" in buttons["Approve"].attrs and "disabled" in buttons["Reject sale"].attrs
    assert "another manager or an admin approves or rejects it" in text_of(by_id(html, f"own-{mine.id}"))


def test_bulk_reject_refuses_the_sales_you_entered_and_rejects_the_others(team):
    mine = _sale(team, team["maria"])
    theirs = _sale(team, team["ben"], agent=team["ben"])
    response = team["browser"].post("/manage/review/bulk", {
        "sale_ids": [str(mine.id), str(theirs.id)], "action": "reject", "reason": "Duplicate"},
        token_from="/manage/review", headers=ROW)
    assert response.status_code == 200
    row = by_id(response.get_data(as_text=True), f"sale-row-{mine.id}")
    assert row is not None and REFUSAL in text_of(row)
    assert (_status(mine), _status(theirs)) == ("pending", "rejected")
    db.session.expire_all()
    assert db.session.get(Sale, mine.id).reason is None
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "sale.reject", AuditEvent.object_id == mine.id)) == 0


def test_bulk_reject_of_only_your_own_sales_writes_nothing(team):
    mine = [_sale(team, team["maria"]), _sale(team, team["maria"], agent=team["ben"])]
    before = _state()
    response = team["browser"].post("/manage/review/bulk", {
        "sale_ids": [str(s.id) for s in mine], "action": "reject", "reason": "Duplicate"},
        token_from="/manage/review")
    assert response.status_code == 302
    queue_page = team["browser"].get(urlsplit(response.headers["Location"]).path)
    flashes = flash_messages(queue_page.get_data(as_text=True))
    assert sum(REFUSAL in f for f in flashes) == 2
    assert _state() == before


# --- voiding on the sale page and the agent page ------------------------------------------------------

@pytest.mark.parametrize("back", ["sale", "agent"])
def test_voiding_a_sale_you_entered_is_refused_with_who_may(team, back):
    mine = _sale(team, team["maria"], approved=True)
    before = _state()
    page = f"/sales/{mine.id}" if back == "sale" else f"/manage/agents/{team['ann'].id}"
    response = team["browser"].post(f"/manage/sales/{mine.id}/void", {"reason": "Refund", "back": back},
                                    token_from=page)
    assert response.status_code == 403
    assert REFUSAL in flash_messages(response.get_data(as_text=True))
    assert _state() == before and _status(mine) == "approved"
    admin = team["admin_browser"].post(f"/manage/sales/{mine.id}/void", {"reason": "Refund", "back": "sale"},
                                       token_from=f"/sales/{mine.id}")
    assert admin.status_code == 302 and _status(mine) == "voided"


def test_the_pages_offer_no_void_form_for_a_sale_you_entered(team):
    mine = _sale(team, team["maria"], approved=True)
    theirs = _sale(team, team["ann"], approved=True)
    for page in (f"/sales/{mine.id}", f"/manage/agents/{team['ann'].id}"):
        html = team["browser"].get(page).get_data(as_text=True)
        assert f"/manage/sales/{mine.id}/void" not in html, page
        assert "You entered this sale: another manager or an admin voids it." in html, page
    their_page = team["browser"].get(f"/sales/{theirs.id}").get_data(as_text=True)
    assert f"/manage/sales/{theirs.id}/void" in their_page


# --- the API ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("decision", ["reject", "void"])
def test_the_api_refuses_a_decision_on_a_sale_you_entered(app, team, decision):
    api = app.test_client()
    maria = headers_for(team["maria"])
    entered = api.post(f"{API}/sales", headers=maria, json={
        "product_id": team["product"].id, "customer_id": team["customer"].id, "quantity": 1,
        "unit_price": "500.00", "sold_on": "2026-11-18", "agent_id": team["ann"].id}).json
    sale = db.session.get(Sale, entered["id"])
    if decision == "void":
        sales.approve_sale(team["admin"], sale)
        db.session.commit()
    before = _state()
    response = api.post(f"{API}/sales/{sale.id}/{decision}", headers=maria, json={"reason": "Refund"})
    error = error_of(response, 403)
    assert error["message"] == REFUSAL
    assert _state() == before
    admin = api.post(f"{API}/sales/{sale.id}/{decision}", headers=headers_for(team["admin"]),
                     json={"reason": "Refund"})
    assert admin.status_code == 200
    assert admin.json["status"] == ("rejected" if decision == "reject" else "voided")


# --- sales made by a CSV import -------------------------------------------------------------------------

@pytest.fixture
def import_dir(app, tmp_path, monkeypatch):
    """Uploads go to a directory of this test's own."""
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path / "imports"))


def _import(browser: Browser) -> Sale:
    """Import one sale of Ann's through the upload, preview and confirm pages."""
    content = ("key,agent_email,sku,customer,quantity,unit_price,date,note\r\n"
               "r-0001,ann@example.com,WID-1,Acme,1,100.00,2026-11-18,\r\n").encode()
    response = browser.post("/manage/imports", data={"file": (io.BytesIO(content), "sales.csv")},
                            token_from="/manage/imports", content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    preview = urlsplit(response.headers["Location"]).path
    assert browser.post(preview, token_from=preview).status_code == 302
    db.session.expire_all()
    return db.session.scalar(select(Sale).where(Sale.idempotency_key == "csv-r-0001"))


def test_the_importer_cannot_reject_a_sale_they_imported(team, import_dir):
    sale = _import(team["browser"])
    assert sale.status == "pending" and sale.entered_by_id == team["maria"].id
    before = _state()
    response = team["browser"].post(f"/manage/review/{sale.id}/reject", {"reason": "Duplicate"},
                                    token_from="/manage/review", headers=ROW)
    assert response.status_code == 403 and REFUSAL in response.get_data(as_text=True)
    assert _state() == before


def test_the_importer_cannot_void_a_sale_they_imported_with_approval_off(app, team, import_dir):
    get_settings().approval_required = False
    db.session.commit()
    sale = _import(team["browser"])
    assert sale.status == "approved"
    before = _state()
    response = team["browser"].post(f"/manage/sales/{sale.id}/void", {"reason": "Refund", "back": "sale"},
                                    token_from=f"/sales/{sale.id}")
    assert response.status_code == 403
    api = app.test_client().post(f"{API}/sales/{sale.id}/void", headers=headers_for(team["maria"]),
                                 json={"reason": "Refund"})
    assert error_of(api, 403)["message"] == REFUSAL
    assert _state() == before and _status(sale) == "approved"
