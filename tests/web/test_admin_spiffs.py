"""SPIFF pages: create, field errors (422, nothing written), new version, end early, who earned
what (paged; managers see their team), the recompute progress page, CSRF and who may open them."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.conftest import browser_as
from tests.support.queues import jobs
from tests.web._html import by_testid, field_error, flash_messages, redirect_path
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role
from webapp.extensions import db
from webapp.spiffs import queries, recompute
from webapp.spiffs.models import Spiff, SpiffRecompute, SpiffVersion
from webapp.spiffs.services import SpiffRules, create_spiff


def d(day: int) -> date:
    """A day of November 2026."""
    return date(2026, 11, day)


@pytest.fixture
def shop(factory, today):
    """Nov 20; Maria's team (Ana, on 3%) and another team's Carl; a printer in technology."""
    today(d(20))
    maria = factory.user(Role.MANAGER, name="Maria")
    ana = factory.user(Role.AGENT, manager=maria, name="Ana")
    carl = factory.user(Role.AGENT, name="Carl")
    plan = factory.plan(base_rate="3")
    for agent in (ana, carl):
        factory.assign(agent, plan)
    technology = factory.category("technology", "Technology")
    printer = factory.product("PRN-1", category=technology, name="Printer")
    return {"maria": maria, "ana": ana, "carl": carl, "tech": technology, "printer": printer,
            "admin": factory.user(Role.ADMIN, name="Ada")}


def form(shop, **values) -> dict:
    """The new-SPIFF form as a browser posts it."""
    data = {"name": "printer_push", "first_day": "2026-11-01", "last_day": "2026-11-30", "per_unit": "12.25",
            "percent": "", "cap": "", "product_ids": [str(shop["printer"].id)]}
    data.update(values)
    return data


def counts() -> tuple[int, int, int]:
    """SPIFFs, versions and audit events stored."""
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Spiff, SpiffVersion, AuditEvent))


def test_admin_creates_a_spiff_that_pays_approved_sales_and_lists_it(shop, factory, app):
    sale = factory.sale(shop["ana"], "2400.00", d(5), product=shop["printer"], quantity=4)
    admin = browser_as(app, shop["admin"])
    response = admin.post("/admin/spiffs/new", form(shop, cap="100.00"))
    assert response.status_code == 302
    spiff = db.session.scalar(select(Spiff).where(Spiff.name == "printer_push"))
    assert redirect_path(response) == f"/admin/spiffs/{spiff.id}"
    assert spiff.versions[0].per_unit_cents == 1225 and spiff.versions[0].cap_cents == 10000
    detail = admin.get(redirect_path(response)).get_data(as_text=True)
    assert flash_messages(detail) == ["SPIFF created. 1 agent-month recalculated."]
    assert by_testid(detail, f"earned-{shop['ana'].id}") == "$49.00" and sale.agent_id == shop["ana"].id
    listing = admin.get("/admin/spiffs").get_data(as_text=True)
    assert "printer_push" in listing and "$12.25 per unit" in listing and "Active" in listing


@pytest.mark.parametrize(("values", "field"), [
    ({"per_unit": "1.00", "percent": "2"}, "per_unit"),
    ({"per_unit": ""}, "per_unit"),
    ({"cap": "0.00"}, "cap"),
    ({"cap": "0.001"}, "cap"),
    ({"per_unit": "0"}, "per_unit"),
    ({"percent": "101", "per_unit": ""}, "percent"),
    ({"last_day": "2026-10-31"}, "last_day"),
    ({"first_day": "20261101"}, "first_day"),
    ({"product_ids": ["999999"]}, "product_ids"),
    ({"product_ids": []}, "product_ids"),
    ({"name": ""}, "name"),
])
def test_bad_input_is_422_beside_its_field_and_writes_nothing(shop, app, values, field):
    admin = browser_as(app, shop["admin"])
    before = counts()
    response = admin.post("/admin/spiffs/new", form(shop, **values))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), field)
    assert counts() == before


def test_the_empty_create_form_shows_every_fields_error_at_once(shop, app):
    admin = browser_as(app, shop["admin"])
    before = counts()
    response = admin.post("/admin/spiffs/new", form(shop, name="  ", first_day="", last_day="", per_unit="",
                                                     cap="0.00", product_ids=[]))
    assert response.status_code == 422 and counts() == before
    html = response.get_data(as_text=True)
    assert {name: field_error(html, name) for name in ("name", "first_day", "last_day", "per_unit", "percent",
                                                       "cap", "product_ids", "category_ids")} == {
        "name": "Enter a name (at most 80 characters).",
        "first_day": "Enter the first day.",
        "last_day": "Enter the last day.",
        "per_unit": "Give the reward: an amount per unit or a percent of the amount.",
        "percent": None,
        "cap": "The monthly cap must be at least 0.01 (leave it empty for no cap).",
        "product_ids": "Choose at least one product or category.",
        "category_ids": None,
    }


def test_rule_errors_show_together_and_a_typo_is_not_also_called_missing(shop, app):
    admin = browser_as(app, shop["admin"])
    html = admin.post("/admin/spiffs/new", form(shop, name="", last_day="2026-10-31", per_unit="1.00",
                                                percent="2", product_ids=[])).get_data(as_text=True)
    assert field_error(html, "name") == "Enter a name (at most 80 characters)."
    assert field_error(html, "last_day") == "The last day is before the first day."
    assert field_error(html, "per_unit") == "Give either an amount per unit or a percent of the amount, not both."
    assert field_error(html, "product_ids") == "Choose at least one product or category."
    html = admin.post("/admin/spiffs/new", form(shop, per_unit="0", first_day="2026-13-01")).get_data(as_text=True)
    assert field_error(html, "per_unit") == "The amount per unit must be at least 0.01."
    assert field_error(html, "first_day") == "Enter a date like 2026-11-01."
    html = admin.post("/admin/spiffs/new", form(shop, per_unit="", percent="abc")).get_data(as_text=True)
    assert field_error(html, "per_unit") is None and field_error(html, "percent")  # the typo, not "give the reward"


def test_the_empty_new_version_form_shows_every_fields_error_at_once(shop, app):
    spiff = _spiff(shop)
    admin = browser_as(app, shop["admin"])
    before = counts()
    response = admin.post(f"/admin/spiffs/{spiff.id}/versions/new",
                          form(shop, effective_from="", first_day="", last_day="", per_unit="", product_ids=[]))
    assert response.status_code == 422 and counts() == before
    html = response.get_data(as_text=True)
    assert field_error(html, "effective_from") == "Enter the date the new version takes effect."
    assert field_error(html, "first_day") == "Enter the first day."
    assert field_error(html, "last_day") == "Enter the last day."
    assert field_error(html, "per_unit") == "Give the reward: an amount per unit or a percent of the amount."
    assert field_error(html, "product_ids") == "Choose at least one product or category."


def test_a_duplicate_name_is_refused_beside_the_name(shop, app):
    admin = browser_as(app, shop["admin"])
    assert admin.post("/admin/spiffs/new", form(shop)).status_code == 302
    response = admin.post("/admin/spiffs/new", form(shop, name="PRINTER_push"))
    assert response.status_code == 422 and "already exists" in field_error(response.get_data(as_text=True), "name")


def test_a_post_without_the_csrf_token_is_refused(shop, app):
    admin = browser_as(app, shop["admin"])
    before = counts()
    response = admin.client.post("/admin/spiffs/new", data=form(shop))
    assert response.status_code == 400 and counts() == before


def _spiff(shop, **values) -> Spiff:
    """A November printer SPIFF made through the service."""
    name = values.pop("name", "push")
    rules = {"first_day": d(1), "last_day": d(30), "per_unit": Decimal("12.25"), "product_ids": [shop["printer"].id]}
    rules.update(values)
    return create_spiff(shop["admin"], name, SpiffRules(**rules)).spiff


def test_a_new_version_and_ending_early_through_the_pages(shop, factory, app):
    spiff = _spiff(shop)
    admin = browser_as(app, shop["admin"])
    page = admin.get(f"/admin/spiffs/{spiff.id}/versions/new").get_data(as_text=True)
    assert 'value="12.25"' in page
    response = admin.post(f"/admin/spiffs/{spiff.id}/versions/new",
                          form(shop, per_unit="20.00", effective_from="2026-11-16"))
    assert response.status_code == 302
    db.session.expire_all()  # the request wrote through its own session
    sale = factory.sale(shop["ana"], "100.00", d(18), product=shop["printer"])
    assert queries.month_earnings(shop["ana"].id, [spiff.id], d(18)) == {spiff.id: 2000}
    refused = admin.post(f"/admin/spiffs/{spiff.id}/end", {"last_day": "2026-12-15"})
    assert refused.status_code == 422 and "already ends" in field_error(refused.get_data(as_text=True), "last_day")
    assert admin.post(f"/admin/spiffs/{spiff.id}/end", {"last_day": "2026-11-17"}).status_code == 302
    assert queries.month_earnings(shop["ana"].id, [spiff.id], d(18)) == {} and sale.id
    detail = admin.get(f"/admin/spiffs/{spiff.id}").get_data(as_text=True)
    assert "2026-11-01 to 2026-11-17" in detail and "Ended" in detail


def test_who_earned_what_pages_and_managers_see_their_team_only(shop, factory, app, monkeypatch):
    spiff = _spiff(shop)
    for agent in (shop["ana"], shop["carl"]):
        factory.sale(agent, "100.00", d(5), product=shop["printer"])
    monkeypatch.setattr(queries, "EARNED_PAGE_SIZE", 1)
    admin = browser_as(app, shop["admin"])
    first = admin.get(f"/admin/spiffs/{spiff.id}").get_data(as_text=True)
    assert "Page 1 of 2" in first and "Ana" in first
    second = admin.get(f"/admin/spiffs/{spiff.id}?page=2", headers={"HX-Request": "true", "HX-Target": "spiff-earned"})
    html = second.get_data(as_text=True)
    assert "Carl" in html and "<html" not in html
    manager = browser_as(app, shop["maria"]).get(f"/admin/spiffs/{spiff.id}").get_data(as_text=True)
    assert "Ana" in manager and "Carl" not in manager and "New version" not in manager


@pytest.mark.parametrize("url", ["/admin/spiffs", "/admin/spiffs/new", "/admin/spiffs/{id}",
                                 "/admin/spiffs/{id}/versions/new", "/admin/spiffs/{id}/end"])
def test_agents_may_not_open_the_spiff_pages(shop, app, url):
    spiff = _spiff(shop)
    assert browser_as(app, shop["ana"]).get(url.format(id=spiff.id)).status_code == 403


@pytest.mark.parametrize("url", ["/admin/spiffs/new", "/admin/spiffs/{id}/versions/new", "/admin/spiffs/{id}/end"])
def test_managers_may_not_change_spiffs(shop, app, url):
    spiff = _spiff(shop)
    assert browser_as(app, shop["maria"]).get(url.format(id=spiff.id)).status_code == 403


def test_an_unknown_spiff_is_404(shop, app):
    assert browser_as(app, shop["admin"]).get("/admin/spiffs/999999").status_code == 404


def test_many_agent_months_show_a_progress_page_that_polls_until_done(shop, factory, app, monkeypatch,
                                                                      empty_queues):
    factory.sale(shop["ana"], "100.00", d(5), product=shop["printer"])
    factory.sale(shop["carl"], "100.00", d(5), product=shop["printer"])
    monkeypatch.setattr(recompute, "SYNC_LIMIT", 1)
    admin = browser_as(app, shop["admin"])
    assert admin.post("/admin/spiffs/new", form(shop, cap="0.00")).status_code == 422
    assert jobs("default") == []  # refused: nothing enqueued
    response = admin.post("/admin/spiffs/new", form(shop))
    run = db.session.scalar(select(SpiffRecompute))
    assert redirect_path(response) == f"/admin/spiffs/{run.spiff_id}/recomputes/{run.id}"
    assert jobs("default") == [("jobs.spiffs.recompute_spiff_change", (run.id,))]
    page = admin.get(redirect_path(response)).get_data(as_text=True)
    assert "0 of 2" in page.replace("<strong>", "").replace("</strong>", "") and 'hx-trigger="every 2s"' in page
    recompute.run_recompute(run.id)
    fragment = admin.get(redirect_path(response), headers={"HX-Request": "true", "HX-Target": "recompute-progress"})
    assert fragment.status_code == 286 and "All done" in fragment.get_data(as_text=True)


def test_a_failed_recalculation_can_be_tried_again_and_a_lost_one_is_swept(shop, factory, app, monkeypatch,
                                                                          empty_queues, at):
    factory.sale(shop["ana"], "100.00", d(5), product=shop["printer"])
    factory.sale(shop["carl"], "100.00", d(5), product=shop["printer"])
    monkeypatch.setattr(recompute, "SYNC_LIMIT", 1)
    run = create_spiff(shop["admin"], "lost", SpiffRules(d(1), d(30), per_unit=Decimal("1.00"),
                                                         product_ids=[shop["printer"].id])).run
    # Nothing was enqueued (no commit here): the sweep finds it once it has waited long enough.
    assert recompute.requeue_stalled() == []
    at(datetime.now(timezone.utc) + timedelta(minutes=6))
    assert recompute.requeue_stalled() == [run.id]
    assert recompute.requeue_stalled() == [run.id]  # still queued, but the waiting job is not doubled
    assert jobs("default") == [("jobs.spiffs.recompute_spiff_change", (run.id,))]
    run.status, run.error = "failed", "OperationalError: the database went away"
    db.session.flush()
    admin = browser_as(app, shop["admin"])
    url = f"/admin/spiffs/{run.spiff_id}/recomputes/{run.id}"
    page = admin.get(url).get_data(as_text=True)
    assert "Stopped" in page and "the database went away" in page and "Try again" in page
    response = admin.post(f"{url}/retry", token_from=url)
    assert redirect_path(response) == url
    db.session.expire_all()
    assert db.session.get(SpiffRecompute, run.id).status == "queued"
