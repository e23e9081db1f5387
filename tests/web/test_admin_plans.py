"""Admin plan pages: creating plans, refusing bad rules, versions instead of edits, assignments."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

import pytest
from rq import Queue
from sqlalchemy import func, select

from tests.support.queues import jobs
from tests.web._html import by_id, field_error, tags, text_of
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role
from webapp.commissions.models import (CommissionEntry, CommissionPlan, PlanAssignment, PlanOverride, PlanTier,
                                       PlanVersion)
from webapp.commissions.periods import close_period, period_for
from webapp.commissions.plans import MAX_TERMS
from webapp.extensions import db, redis_client
from webapp.plandocs.services import issue_missing

NOV_1 = date(2026, 11, 1)
ROWS_TABLES = (CommissionPlan, PlanVersion, PlanTier, PlanOverride, PlanAssignment, AuditEvent)


def _counts() -> tuple[int, ...]:
    """How many rows every table a plan page can write to holds."""
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(model)) for model in ROWS_TABLES)


def _plan_form(name: str = "Standard", base_rate: str = "", tiers=(), tier_mode: str = "",
               categories=(), products=(), **extra) -> dict:
    """The create-plan form as a browser sends it: six tier rows and three rows per override."""
    form = {"name": name, "description": "", "effective_from": "2026-11-01", "base_rate": base_rate,
            "tier_mode": tier_mode}
    tiers = list(tiers) + [("", "")] * (6 - len(tiers))
    for index, (start, rate) in enumerate(tiers):
        form[f"tiers-{index}-from_amount"], form[f"tiers-{index}-rate"] = start, rate
    for key, rows in (("category", categories), ("product", products)):
        rows = list(rows) + [("", "")] * (3 - len(rows))
        for index, (target, rate) in enumerate(rows):
            form[f"{key}_rates-{index}-{key}_id"], form[f"{key}_rates-{index}-rate"] = str(target), rate
    form.update(extra)
    return form


def _plan_named(name: str) -> CommissionPlan | None:
    """The plan with this name as the database has it now."""
    db.session.expire_all()
    return db.session.scalar(select(CommissionPlan).where(CommissionPlan.name == name))


def _rules(version: PlanVersion) -> tuple:
    """A stored version's rules in storage units: base, mode, tiers, overrides."""
    return (version.base_rate_units, version.tier_mode,
            [(t.from_cents, t.rate_units) for t in version.tiers],
            sorted((o.category_id or 0, o.product_id or 0, o.rate_units) for o in version.overrides))


# ---- Creating plans ------------------------------------------------------------------------


def test_admin_creates_a_flat_plan_which_is_listed_and_audited(as_admin):
    response = as_admin.post("/admin/plans/new", _plan_form(name="Flat 3", base_rate="3",
                                                             description="Everyone's default"))
    assert response.status_code == 302
    plan = _plan_named("Flat 3")
    assert urlsplit(response.headers["Location"]).path == f"/admin/plans/{plan.id}"
    [version] = plan.versions
    assert (version.version, version.effective_from) == (1, NOV_1)
    assert _rules(version) == (30000, None, [], [])
    assert plan.description == "Everyone's default"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "plan.create",
                                                       AuditEvent.object_id == plan.id))
    assert event.actor_id == as_admin.user.id

    listing = as_admin.get("/admin/plans").get_data(as_text=True)
    assert "Flat 3" in listing and "3%" in listing and "Not used yet" in listing


def test_admin_creates_a_tiered_plan_with_overrides_and_empty_rows_are_ignored(as_admin, factory):
    category = factory.category(code="tiered_cat")
    product = factory.product(sku="TIER-1")
    # A blank row between brackets and blank override rows: both ignored.
    form = _plan_form(name="Tiered", tiers=[("0", "3"), ("", ""), ("10000", "5"), ("50000.50", "7.125")],
                      tier_mode="retroactive", categories=[("", ""), (category.id, "1.5")],
                      products=[(product.id, "0")])
    response = as_admin.post("/admin/plans/new", form)
    assert response.status_code == 302
    [version] = _plan_named("Tiered").versions
    assert _rules(version) == (
        None, "retroactive", [(0, 30000), (1_000_000, 50000), (5_000_050, 71250)],
        sorted([(category.id, 0, 15000), (0, product.id, 0)]))

    detail = as_admin.get(urlsplit(response.headers["Location"]).path).get_data(as_text=True)
    assert "retroactive" in detail and "7.125%" in detail and "TIER-1" in detail and "tiered_cat" in detail


@pytest.mark.parametrize("bad", ["-1", "101", "3.12345", "abc", "NaN", "1e3", "Infinity", "3,5", "0x10"])
@pytest.mark.parametrize("field", ["base_rate", "tiers-1-rate", "category_rates-0-rate", "product_rates-0-rate"])
def test_a_bad_rate_is_422_beside_its_field_and_writes_nothing(as_admin, factory, field, bad):
    category, product = factory.category(), factory.product()
    form = _plan_form(tiers=[("0", "3"), ("1000", "4")], tier_mode="marginal",
                      categories=[(category.id, "2")], products=[(product.id, "2")])
    form[field] = bad
    before = _counts()
    response = as_admin.post("/admin/plans/new", form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = field_error(html, field)
    assert error, html
    assert by_id(html, field).attrs.get("aria-invalid") == "true"
    assert by_id(html, field).attrs.get("value") == bad  # what was typed stays, to be corrected
    assert _counts() == before


@pytest.mark.parametrize("bad, message", [
    ("-1", "not negative"), ("101", "at most 100"), ("3.12345", "four decimals"),
    ("abc", "plain number"), ("NaN", "plain number"), ("1e3", "plain number"),
])
def test_bad_rate_messages_say_what_is_wrong(as_admin, bad, message):
    response = as_admin.post("/admin/plans/new", _plan_form(base_rate=bad))
    assert response.status_code == 422
    assert message in field_error(response.get_data(as_text=True), "base_rate")


@pytest.mark.parametrize("tiers, message", [
    ([("0", "3"), ("50000", "7"), ("10000", "5")], "ascending order"),
    ([("100", "3"), ("10000", "5")], "must start at 0"),
    ([("0", "3"), ("10000", "5"), ("10000", "6")], "both start at 10000.00"),
    ([("0", "3"), ("0", "5")], "both start at 0.00"),
])
def test_bad_brackets_are_refused_beside_the_tier_table(as_admin, tiers, message):
    before = _counts()
    response = as_admin.post("/admin/plans/new", _plan_form(tiers=tiers, tier_mode="marginal"))
    assert response.status_code == 422
    assert message in field_error(response.get_data(as_text=True), "tiers")
    assert _counts() == before


@pytest.mark.parametrize("form, field, message", [
    (_plan_form(base_rate="3", tiers=[("0", "3")], tier_mode="marginal"), "base_rate", "not both"),
    (_plan_form(), "base_rate", "needs a base rate or a tier table"),
    (_plan_form(tiers=[("0", "3")]), "tier_mode", "marginal or retroactive"),
    (_plan_form(tiers=[("0", "3")], tier_mode="sideways"), "tier_mode", "valid choice"),
    (_plan_form(tiers=[("0", "3"), ("", "5")], tier_mode="marginal"), "tiers-1-from_amount", "starts at"),
    (_plan_form(tiers=[("0", "3"), ("1000", "")], tier_mode="marginal"), "tiers-1-rate", "rate"),
    (_plan_form(tiers=[("0", "3"), ("10.005", "4")], tier_mode="marginal"), "tiers-1-from_amount", "two decimals"),
    (_plan_form(tiers=[("0", "3"), ("-5", "4")], tier_mode="marginal"), "tiers-1-from_amount", "not negative"),
    (_plan_form(base_rate="3", name=""), "name", "required"),
    (_plan_form(base_rate="3", name="x" * 81), "name", "80 characters"),
    (_plan_form(base_rate="3", effective_from=""), "effective_from", "Enter a date"),
    (_plan_form(base_rate="3", effective_from="2026-13-01"), "effective_from", "like 2026-11-01"),
    (_plan_form(base_rate="3", effective_from="2026-11-01T00:00"), "effective_from", "like 2026-11-01"),
])
def test_bad_plan_input_is_422_beside_the_field_and_writes_nothing(as_admin, form, field, message):
    before = _counts()
    response = as_admin.post("/admin/plans/new", form)
    assert response.status_code == 422
    error = field_error(response.get_data(as_text=True), field)
    assert error is not None and message in error, error
    assert _counts() == before


def test_override_rows_must_be_complete_and_name_each_target_once(as_admin, factory):
    first, second = factory.category(), factory.category()
    product = factory.product()
    before = _counts()
    response = as_admin.post("/admin/plans/new", _plan_form(
        base_rate="3", categories=[(first.id, "2"), (second.id, ""), (first.id, "4")],
        products=[("", "5")]))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "rate for this category" in field_error(html, "category_rates-1-rate")
    assert "has a rate already" in field_error(html, "category_rates-2-category_id")
    assert "Choose the product" in field_error(html, "product_rates-0-product_id")
    assert field_error(html, "category_rates-0-category_id") is None
    unknown = as_admin.post("/admin/plans/new", _plan_form(base_rate="3", products=[(product.id + 1000, "5")]))
    assert unknown.status_code == 422
    assert "valid choice" in field_error(unknown.get_data(as_text=True), "product_rates-0-product_id")
    assert _counts() == before


def test_a_duplicate_plan_name_is_refused(as_admin, factory):
    factory.plan(base_rate="3", name="Taken")
    before = _counts()
    response = as_admin.post("/admin/plans/new", _plan_form(name="Taken", base_rate="4"))
    assert response.status_code == 422
    assert "exists already" in field_error(response.get_data(as_text=True), "name")
    assert _counts() == before


def test_more_rows_shows_the_form_again_longer_and_saves_nothing(as_admin):
    before = _counts()
    form = _plan_form(name="Long table", tiers=[("0", "1")], tier_mode="marginal", more_rows="y")
    response = as_admin.post("/admin/plans/new", form)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert by_id(html, "tiers-8-rate") is not None  # six rows, then three more
    assert by_id(html, "tiers-0-rate").attrs["value"] == "1"
    assert by_id(html, "name").attrs["value"] == "Long table"
    assert _counts() == before
    # The rows beyond the first six are saved like any other.
    form = _plan_form(name="Long table", tiers=[(str(i * 1000), str(i + 1)) for i in range(6)], tier_mode="marginal")
    form.update({"tiers-7-from_amount": "7000", "tiers-7-rate": "8"})
    assert as_admin.post("/admin/plans/new", form).status_code == 302
    assert len(_plan_named("Long table").versions[0].tiers) == 7


def test_too_many_posted_rows_are_refused_not_dropped(as_admin):
    form = _plan_form(tier_mode="marginal")
    for index in range(31):
        form[f"tiers-{index}-from_amount"], form[f"tiers-{index}-rate"] = str(index * 100), "1"
    before = _counts()
    response = as_admin.post("/admin/plans/new", form)
    assert response.status_code == 422
    assert "at most 30 brackets" in field_error(response.get_data(as_text=True), "tiers")
    assert _counts() == before


def test_plan_form_controls_are_labelled_with_unique_ids(as_admin, factory):
    plan = factory.plan(base_rate="3")
    for path in ("/admin/plans/new", f"/admin/plans/{plan.id}/versions/new",
                 f"/admin/plans/{plan.id}/versions/{plan.versions[0].id}/edit", "/admin/plans/assignments",
                 "/admin/plans/simulator"):
        html = as_admin.get(path).get_data(as_text=True)
        labels = {t.attrs.get("for") for t in tags(html, "label")}
        controls = [t for t in tags(html, "input") + tags(html, "select") + tags(html, "textarea")
                    if t.attrs.get("type") not in ("hidden", "submit")]
        assert controls, path
        assert [c.attrs.get("id") for c in controls if c.attrs.get("id") not in labels] == [], path
        ids = [t.attrs["id"] for t in tags(html) if t.attrs.get("id")]
        assert len(ids) == len(set(ids)), path
        assert not [t for t in tags(html) if "style" in t.attrs or t.name == "style"], path


# ---- Versions ----------------------------------------------------------------------------


def test_an_unused_version_is_edited_in_place(as_admin, factory):
    plan = factory.plan(base_rate="3")
    version = plan.versions[0]
    page = as_admin.get(f"/admin/plans/{plan.id}/versions/{version.id}/edit").get_data(as_text=True)
    assert by_id(page, "base_rate").attrs["value"] == "3"
    response = as_admin.post(f"/admin/plans/{plan.id}/versions/{version.id}/edit",
                             _plan_form(tiers=[("0", "2"), ("5000", "4")], tier_mode="marginal"))
    assert response.status_code == 302
    db.session.expire_all()
    version = db.session.get(PlanVersion, version.id)
    assert _rules(version) == (None, "marginal", [(0, 20000), (500_000, 40000)], [])
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "plan.version.edit")) is not None


def test_a_used_version_cannot_be_edited_and_a_new_version_pays_later_sales(as_admin, factory, today):
    today(date(2026, 11, 5))
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1))
    agent = factory.user(Role.AGENT)
    factory.assign(agent, plan, effective_from=date(2026, 1, 1))
    early = factory.sale(agent, "1000.00", date(2026, 11, 3))
    first = plan.versions[0]
    edit_url = f"/admin/plans/{plan.id}/versions/{first.id}/edit"

    detail = as_admin.get(f"/admin/plans/{plan.id}").get_data(as_text=True)
    assert edit_url not in detail
    assert "Used" in detail and "change it with a new version" in detail
    page = as_admin.get(edit_url)
    assert page.status_code == 200
    assert "cannot be edited" in page.get_data(as_text=True)
    assert not tags(page.get_data(as_text=True), "textarea") and by_id(page.get_data(as_text=True), "base_rate") is None

    before = _counts()
    refused = as_admin.post(edit_url, _plan_form(base_rate="9"))
    assert refused.status_code == 409
    assert "new version" in refused.get_data(as_text=True)
    assert _counts() == before
    db.session.expire_all()
    assert db.session.get(PlanVersion, first.id).base_rate_units == 30000

    new_page = as_admin.get(f"/admin/plans/{plan.id}/versions/new").get_data(as_text=True)
    assert by_id(new_page, "base_rate").attrs["value"] == "3"  # prefilled with the rules in force
    created = as_admin.post(f"/admin/plans/{plan.id}/versions/new",
                            _plan_form(base_rate="5", effective_from="2026-11-10"))
    assert created.status_code == 302
    db.session.expire_all()
    second = db.session.scalar(select(PlanVersion).where(PlanVersion.plan_id == plan.id, PlanVersion.version == 2))
    assert (second.effective_from, second.base_rate_units) == (date(2026, 11, 10), 50000)

    today(date(2026, 11, 12))
    later = factory.sale(agent, "1000.00", date(2026, 11, 12))
    entries = {e.sale_id: (e.amount_cents, e.plan_version_id) for e in db.session.scalars(
        select(CommissionEntry).where(CommissionEntry.agent_id == agent.id))}
    assert entries == {early.id: (3000, first.id), later.id: (5000, second.id)}
    detail = as_admin.get(f"/admin/plans/{plan.id}").get_data(as_text=True)
    assert f"/admin/plans/{plan.id}/versions/{second.id}/edit" not in detail  # v2 has earned now too
    assert "2026-01-01 to 2026-11-09" in detail


def test_a_new_version_needs_its_own_date_in_an_open_period(as_admin, factory, today):
    today(date(2026, 11, 20))
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1))
    close_period(None, period_for(date(2026, 11, 1)))
    before = _counts()
    same_day = as_admin.post(f"/admin/plans/{plan.id}/versions/new", _plan_form(base_rate="4",
                                                                                effective_from="2026-11-16"))
    assert same_day.status_code == 302
    again = as_admin.post(f"/admin/plans/{plan.id}/versions/new", _plan_form(base_rate="6",
                                                                             effective_from="2026-11-16"))
    assert again.status_code == 422
    assert "already starts on that date" in field_error(again.get_data(as_text=True), "effective_from")
    before = _counts()
    closed = as_admin.post(f"/admin/plans/{plan.id}/versions/new", _plan_form(base_rate="4",
                                                                              effective_from="2026-11-10"))
    assert closed.status_code == 422
    assert "closed period" in field_error(closed.get_data(as_text=True), "effective_from")
    bad = as_admin.post(f"/admin/plans/{plan.id}/versions/new", _plan_form(
        base_rate="4", tiers=[("0", "1")], tier_mode="marginal", effective_from="2026-11-20"))
    assert bad.status_code == 422 and "not both" in field_error(bad.get_data(as_text=True), "base_rate")
    assert _counts() == before


def test_version_pages_of_another_plan_or_missing_ones_are_404(as_admin, factory):
    plan, other = factory.plan(base_rate="3"), factory.plan(base_rate="4")
    assert as_admin.get(f"/admin/plans/{plan.id}/versions/{other.versions[0].id}/edit").status_code == 404
    assert as_admin.get("/admin/plans/999999").status_code == 404
    assert as_admin.get("/admin/plans/999999/versions/new").status_code == 404


# ---- Assignments -------------------------------------------------------------------------


def _assign_form(agent, plan, start: str, end: str = "") -> dict:
    """The add-assignment form."""
    return {"agent_id": str(agent.id), "plan_id": str(plan.id), "effective_from": start, "effective_to": end}


def test_admin_assigns_a_plan_and_an_overlap_is_refused_with_the_services_message(as_admin, factory, today):
    today(date(2026, 11, 5))
    agent = factory.user(Role.AGENT, name="Olive Overlap")
    standard, premium = factory.plan(base_rate="3", name="Standard"), factory.plan(base_rate="5", name="Premium")
    response = as_admin.post("/admin/plans/assignments", _assign_form(agent, standard, "2026-11-01"))
    assert response.status_code == 302
    [assignment] = db.session.scalars(select(PlanAssignment).where(PlanAssignment.agent_id == agent.id)).all()
    assert (assignment.plan_id, assignment.effective_from, assignment.effective_to) == (standard.id, NOV_1, None)
    listing = as_admin.get("/admin/plans/assignments").get_data(as_text=True)
    assert "Olive Overlap" in listing and "Standard" in listing and "no end" in listing

    before = _counts()
    clash = as_admin.post("/admin/plans/assignments", _assign_form(agent, premium, "2026-12-01", "2026-12-31"))
    assert clash.status_code == 422
    error = field_error(clash.get_data(as_text=True), "effective_from")
    assert error == ("Olive Overlap is already on Standard from 2026-11-01 (open-ended). "
                     "End that assignment first.")
    assert _counts() == before


@pytest.mark.parametrize("changes, field, message", [
    ({"agent_id": ""}, "agent_id", "Choose an agent"),
    ({"plan_id": ""}, "plan_id", "Choose a plan"),
    ({"plan_id": "abc"}, "plan_id", ""),
    ({"effective_from": ""}, "effective_from", "Enter a date"),
    ({"effective_to": "2026-10-01"}, "effective_to", "before the start date"),
    ({"effective_to": "soon"}, "effective_to", "like 2026-11-01"),
])
def test_bad_assignments_are_422_beside_the_field(as_admin, factory, changes, field, message):
    agent, plan = factory.user(Role.AGENT), factory.plan(base_rate="3")
    before = _counts()
    response = as_admin.post("/admin/plans/assignments", {**_assign_form(agent, plan, "2026-11-01"), **changes})
    assert response.status_code == 422
    error = field_error(response.get_data(as_text=True), field)
    assert error is not None and message in error
    assert _counts() == before


def test_managers_cannot_be_given_a_plan(as_admin, factory):
    manager, plan = factory.user(Role.MANAGER), factory.plan(base_rate="3")
    response = as_admin.post("/admin/plans/assignments", _assign_form(manager, plan, "2026-11-01"))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "agent_id")


def test_ending_an_assignment_frees_the_agent_for_another_plan(as_admin, factory, today):
    today(date(2026, 11, 5))
    agent = factory.user(Role.AGENT)
    standard, premium = factory.plan(base_rate="3"), factory.plan(base_rate="5")
    assignment = factory.assign(agent, standard, effective_from=date(2026, 1, 1))
    end_url = f"/admin/plans/assignments/{assignment.id}/end"
    assert end_url in as_admin.get("/admin/plans/assignments").get_data(as_text=True)

    bad = as_admin.post(end_url, {"effective_to": "2025-12-31"})
    assert bad.status_code == 422
    assert "on or after the start date" in field_error(bad.get_data(as_text=True), "effective_to")

    response = as_admin.post(end_url, {"effective_to": "2026-11-30"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(PlanAssignment, assignment.id).effective_to == date(2026, 11, 30)
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "plan.assignment.end"))
    follow = as_admin.post("/admin/plans/assignments", _assign_form(agent, premium, "2026-12-01"))
    assert follow.status_code == 302


def test_moving_an_end_date_later_cannot_overlap_the_next_assignment(as_admin, factory, today):
    today(date(2026, 11, 5))
    agent = factory.user(Role.AGENT)
    first = factory.assign(agent, factory.plan(base_rate="3"), effective_from=date(2026, 1, 1),
                           effective_to=date(2026, 11, 30))
    factory.assign(agent, factory.plan(base_rate="5"), effective_from=date(2026, 12, 1))
    before = _counts()
    response = as_admin.post(f"/admin/plans/assignments/{first.id}/end", {"effective_to": "2026-12-15"})
    assert response.status_code == 422
    assert "overlaps" in field_error(response.get_data(as_text=True), "effective_to")
    assert _counts() == before


def test_moving_an_end_date_later_recomputes_the_days_it_gains(as_admin, factory, today):
    today(date(2026, 11, 25))
    agent = factory.user(Role.AGENT)
    assignment = factory.assign(agent, factory.plan(base_rate="3"), effective_from=date(2026, 1, 1),
                                effective_to=date(2026, 11, 10))
    sale = factory.sale(agent, "1000.00", date(2026, 11, 20))  # no plan that day: earns 0
    response = as_admin.post(f"/admin/plans/assignments/{assignment.id}/end", {"effective_to": "2026-11-30"})
    assert response.status_code == 302
    db.session.expire_all()
    amounts = db.session.scalars(select(CommissionEntry.amount_cents).where(CommissionEntry.sale_id == sale.id)).all()
    assert sum(amounts) == 3000


# ---- Who may open the plan pages -------------------------------------------------------------


def _plan_paths(plan, assignment) -> list[str]:
    """Every plan page."""
    version = plan.versions[0]
    return ["/admin/plans", "/admin/plans/new", f"/admin/plans/{plan.id}", f"/admin/plans/{plan.id}/versions/new",
            f"/admin/plans/{plan.id}/versions/{version.id}/edit", "/admin/plans/assignments",
            f"/admin/plans/assignments/{assignment.id}/end", "/admin/plans/simulator"]


@pytest.mark.parametrize("role", ["as_manager", "as_agent"])
def test_managers_and_agents_are_refused_every_plan_page(request, factory, role):
    browser = request.getfixturevalue(role)
    plan = factory.plan(base_rate="3")
    assignment = factory.assign(factory.user(Role.AGENT), plan)
    before = _counts()
    for path in _plan_paths(plan, assignment):
        assert browser.get(path).status_code == 403, path
        if path not in ("/admin/plans", f"/admin/plans/{plan.id}"):  # the two read-only pages take no POST
            posted = browser.post(path, {**_plan_form(base_rate="9", name="Sneaky"), "effective_to": "2026-12-31",
                                         **_assign_form(assignment.agent, plan, "2027-01-01")}, token_from="/")
            assert posted.status_code == 403, path
    assert _counts() == before


def test_anonymous_visitors_are_sent_to_sign_in(client, factory):
    plan = factory.plan(base_rate="3")
    assignment = factory.assign(factory.user(Role.AGENT), plan)
    for path in _plan_paths(plan, assignment):
        response = client.get(path)
        assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login", path


def test_admin_navigation_leads_to_the_plans(as_admin):
    html = as_admin.get("/").get_data(as_text=True)
    assert any(a.attrs.get("href") == "/admin/plans" for a in tags(html, "a"))


# ---- The plan document's further terms -----------------------------------------------------


TERMS = "Draws: none.\nClawback: commission on a sale refunded within 90 days is reversed."


def test_a_new_plan_saves_its_terms_and_the_detail_page_shows_them(as_admin):
    response = as_admin.post("/admin/plans/new", _plan_form(name="With terms", base_rate="3", terms=TERMS))
    assert response.status_code == 302
    plan = _plan_named("With terms")
    assert plan.versions[0].terms == TERMS
    detail = as_admin.get(f"/admin/plans/{plan.id}").get_data(as_text=True)
    assert text_of(by_id(detail, "terms-v1")) == f"Version 1 {' '.join(TERMS.split())}"


def test_too_long_terms_are_422_beside_the_field_and_write_nothing(as_admin, factory):
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1))
    version = plan.versions[0]
    too_long = "x" * (MAX_TERMS + 1)
    before = _counts()
    for url, form in (("/admin/plans/new", _plan_form(name="Long", base_rate="3", terms=too_long)),
                      (f"/admin/plans/{plan.id}/versions/new", _plan_form(base_rate="4", terms=too_long)),
                      (f"/admin/plans/{plan.id}/versions/{version.id}/edit", _plan_form(base_rate="4",
                                                                                         terms=too_long))):
        response = as_admin.post(url, form)
        assert response.status_code == 422, url
        assert field_error(response.get_data(as_text=True), "terms") == "Keep the terms under 20,000 characters.", url
    assert _counts() == before
    db.session.expire_all()
    assert db.session.get(PlanVersion, version.id).terms is None


def test_version_forms_start_from_the_terms_and_say_documents_are_issued(as_admin, factory, today):
    today(date(2026, 11, 5))
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1))
    plan.versions[0].terms = TERMS
    db.session.flush()
    for url in (f"/admin/plans/{plan.id}/versions/new", f"/admin/plans/{plan.id}/versions/{plan.versions[0].id}/edit"):
        page = as_admin.get(url).get_data(as_text=True)
        assert text_of(by_id(page, "terms")) == " ".join(TERMS.split()), url
        assert "issues a plan document to every agent" in text_of(by_id(page, "plan-document-notice")), url
    # The new-plan page has no agents to send anything to yet.
    assert by_id(as_admin.get("/admin/plans/new").get_data(as_text=True), "plan-document-notice") is None


@pytest.mark.usefixtures("empty_queues")
def test_saving_a_version_queues_the_documents_which_carry_its_terms(as_admin, factory, today):
    today(date(2026, 11, 5))
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1))
    agent = factory.user(Role.AGENT)
    factory.assign(agent, plan, effective_from=date(2026, 1, 1))
    response = as_admin.post(f"/admin/plans/{plan.id}/versions/new",
                             _plan_form(base_rate="4", effective_from="2026-11-10", terms=TERMS))
    assert response.status_code == 302
    assert jobs("periodic") == [("jobs.plandocs.issue_missing", ())]
    second = db.session.scalar(select(PlanVersion).where(PlanVersion.plan_id == plan.id, PlanVersion.version == 2))
    assert second.terms == TERMS

    documents = {d.version_id: d for d in issue_missing()}
    assert set(documents) == {plan.versions[0].id, second.id}
    assert documents[second.id].agent_id == agent.id
    assert "clawback: commission on a sale refunded within 90 days" in documents[second.id].body_html.lower()
    assert "Clawback" not in documents[plan.versions[0].id].body_html  # the first version has no terms

    # Editing the unused version's terms is a new revision of its document, queued the same way.
    Queue("periodic", connection=redis_client()).empty()  # as if the worker took the first run
    edited = as_admin.post(f"/admin/plans/{plan.id}/versions/{second.id}/edit",
                           _plan_form(base_rate="4", terms="Draws: 500.00 a month against commission."))
    assert edited.status_code == 302
    assert jobs("periodic") == [("jobs.plandocs.issue_missing", ())]
    db.session.expire_all()  # the job reads the committed version, as a worker would
    [revised] = issue_missing()
    assert (revised.version_id, revised.revision) == (second.id, documents[second.id].revision + 1)
    assert "Draws: 500.00 a month against commission." in revised.body_html
