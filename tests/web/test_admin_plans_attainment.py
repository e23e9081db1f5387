"""Admin plan pages with attainment tiers: a tier basis in the form, percents validated beside their
fields, brackets shown as percents, and as amounts of a chosen agent's target for a chosen month."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from tests.web._html import by_id, by_testid, field_error, html_of, main_text, tags
from tests.web.test_admin_plans import _plan_form
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role
from webapp.commissions import targets
from webapp.commissions.models import CommissionPlan, PlanTier, PlanVersion
from webapp.commissions.plans import PlanRules, create_plan
from webapp.commissions.plan_versions import add_version
from webapp.extensions import db

PERCENT_TIERS = [("0", "2"), ("80", "4"), ("100", "6"), ("150.5", "8")]
HTMX = {"HX-Request": "true", "HX-Target": "bracket-amounts"}


def _counts() -> tuple[int, ...]:
    """Rows of the tables a plan form writes."""
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(m))
                 for m in (CommissionPlan, PlanVersion, PlanTier, AuditEvent))


def _percent_form(tiers=PERCENT_TIERS, **extra) -> dict:
    """The create-plan form with a percent-of-target tier table."""
    return _plan_form(name=extra.pop("name", "Quota plan"), tiers=tiers, tier_mode=extra.pop("tier_mode", "marginal"),
                      basis=extra.pop("basis", "target_percent"), **extra)


def _attainment_plan(name="Quota", tiers=(("0", "2"), ("50", "4"), ("100", "6"))) -> CommissionPlan:
    """A target_percent plan through the service."""
    return create_plan(None, name=name, description=None, effective_from=date(2000, 1, 1), rules=PlanRules(
        tiers=[(Decimal(f), Decimal(r)) for f, r in tiers], tier_mode="marginal", basis="target_percent"))


# ---- The form ------------------------------------------------------------------------------------


def test_admin_creates_an_attainment_plan_stored_as_percents_and_shown_as_percents(as_admin):
    response = as_admin.post("/admin/plans/new", _percent_form())
    assert response.status_code == 302
    plan = db.session.scalar(select(CommissionPlan).where(CommissionPlan.name == "Quota plan"))
    [version] = plan.versions
    assert version.basis == "target_percent"
    assert [(t.from_cents, t.from_percent_units, t.rate_units) for t in version.tiers] == [
        (None, 0, 20000), (None, 800_000, 40000), (None, 1_000_000, 60000), (None, 1_505_000, 80000)]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "plan.create",
                                                       AuditEvent.object_id == plan.id))
    assert event.after["basis"] == "target_percent"
    detail = main_text(html_of(as_admin.get(urlsplit(response.headers["Location"]).path)))
    assert "Attainment" in detail
    assert "from 80% of target: 4%" in detail and "from 150.5% of target: 8%" in detail
    listing = main_text(html_of(as_admin.get("/admin/plans")))
    assert "from 100% of target: 6%" in listing


def test_a_form_without_a_basis_still_makes_an_amount_table(as_admin):
    """Forms posted before the basis existed (and the API of old clients) mean amounts."""
    form = _plan_form(name="Old style", tiers=[("0", "3"), ("1000.50", "5")], tier_mode="marginal")
    assert "basis" not in form
    assert as_admin.post("/admin/plans/new", form).status_code == 302
    [version] = db.session.scalar(select(CommissionPlan).where(CommissionPlan.name == "Old style")).versions
    assert version.basis == "amount"
    assert [(t.from_cents, t.from_percent_units) for t in version.tiers] == [(0, None), (100_050, None)]


@pytest.mark.parametrize("start, message", [
    ("-1", "not negative"), ("80.12345", "four decimals"), ("abc", "plain number"), ("1e3", "plain number"),
    ("", "percent of the target this bracket starts at"),
])
def test_a_bad_percent_is_refused_beside_its_field(as_admin, start, message):
    before = _counts()
    response = as_admin.post("/admin/plans/new", _percent_form(tiers=[("0", "2"), (start, "4")]))
    assert response.status_code == 422
    error = field_error(html_of(response), "tiers-1-from_amount")
    assert error is not None and message in error, error
    assert _counts() == before


def test_percents_take_four_decimals_and_have_no_upper_limit(as_admin):
    response = as_admin.post("/admin/plans/new", _percent_form(tiers=[("0", "2"), ("99.9999", "4"), ("250", "9")]))
    assert response.status_code == 302
    [version] = db.session.scalar(select(CommissionPlan).where(CommissionPlan.name == "Quota plan")).versions
    assert [t.from_percent_units for t in version.tiers] == [0, 999_999, 2_500_000]


@pytest.mark.parametrize("tiers, message", [
    ([("0", "2"), ("150", "6"), ("100", "4")], "ascending order"),
    ([("10", "2"), ("100", "4")], "must start at 0"),
    ([("0", "2"), ("100", "4"), ("100.0000", "6")], "both start at 100"),
])
def test_percent_brackets_ascend_from_zero_said_beside_the_tier_table(as_admin, tiers, message):
    before = _counts()
    response = as_admin.post("/admin/plans/new", _percent_form(tiers=tiers))
    assert response.status_code == 422
    error = field_error(html_of(response), "tiers")
    assert error is not None and message in error, error
    assert _counts() == before


@pytest.mark.parametrize("form, message", [
    (_plan_form(base_rate="3", basis="target_percent"), "base-rate plan has no basis"),
    (_plan_form(tiers=[("0", "2")], tier_mode="marginal", basis="sideways"), "valid choice"),
])
def test_the_basis_is_refused_beside_its_field(as_admin, form, message):
    before = _counts()
    response = as_admin.post("/admin/plans/new", form)
    assert response.status_code == 422
    error = field_error(html_of(response), "basis")
    assert error is not None and message in error, error
    assert by_id(html_of(response), "basis").attrs.get("aria-invalid") == "true"
    assert _counts() == before


def test_the_service_refuses_a_basis_on_a_base_rate_plan_too():
    """The same rule for callers without the form (the simulator, scripts)."""
    from webapp.commissions.plans import validate_rules
    from webapp.errors import ServiceError

    with pytest.raises(ServiceError) as info:
        validate_rules(PlanRules(base_rate=Decimal("3"), basis="target_percent"))
    assert info.value.field == "basis"


def test_editing_a_percent_version_starts_from_its_percents(as_admin):
    plan = _attainment_plan()
    version = plan.versions[0]
    page = html_of(as_admin.get(f"/admin/plans/{plan.id}/versions/{version.id}/edit"))
    selected = [t for t in tags(page, "option") if "selected" in t.attrs and t.ancestors[-1].attrs.get("id") == "basis"]
    assert [t.attrs["value"] for t in selected] == ["target_percent"]
    assert [by_id(page, f"tiers-{i}-from_amount").attrs["value"] for i in range(3)] == ["0", "50", "100"]
    form = _percent_form(tiers=[("0", "2"), ("60", "4"), ("100", "7")])
    form.pop("name"), form.pop("description"), form.pop("effective_from")
    response = as_admin.post(f"/admin/plans/{plan.id}/versions/{version.id}/edit", form,
                             token_from=f"/admin/plans/{plan.id}/versions/{version.id}/edit")
    assert response.status_code == 302
    db.session.expire_all()
    assert [(t.from_percent_units, t.rate_units) for t in db.session.get(PlanVersion, version.id).tiers] == [
        (0, 20000), (600_000, 40000), (1_000_000, 70000)]


# ---- Brackets as amounts -------------------------------------------------------------------------


@pytest.fixture
def quota(factory, today):
    """An attainment plan and an agent with a November target of 12,345.67 (50% is 6,172.835)."""
    today(date(2026, 11, 20))
    plan = _attainment_plan()
    agent = factory.user(Role.AGENT, name="Quinn Quota")
    targets.set_target(None, agent_id=agent.id, month=date(2026, 11, 1), amount_cents=1_234_567)
    return plan, agent


def test_the_plan_page_offers_the_agents_and_this_month(as_admin, quota):
    plan, agent = quota
    page = html_of(as_admin.get(f"/admin/plans/{plan.id}"))
    options = {t.attrs["value"]: t.text for t in tags(page, "option")
               if t.ancestors[-1].attrs.get("id") == "amounts-agent"}
    assert options[str(agent.id)] == "Quinn Quota"
    assert by_id(page, "amounts-month").attrs["value"] == "2026-11"
    assert "Choose an agent" in by_id(page, "bracket-amounts").text


def test_htmx_gets_the_brackets_as_amounts_of_the_agents_target(as_admin, quota):
    plan, agent = quota
    response = as_admin.get(f"/admin/plans/{plan.id}?agent_id={agent.id}&month=2026-11", headers=HTMX)
    assert response.status_code == 200
    html = html_of(response)
    assert html.lstrip().startswith('<div id="bracket-amounts"') and "<html" not in html
    assert "$12,345.67" in by_testid(html, "amounts-target")
    cells = [" ".join(t.text.split()) for t in tags(html, "td")]
    assert cells == ["0%", "$0.00", "2%", "50%", "$6,172.84", "4%", "100%", "$12,345.67", "6%"]


def test_without_a_target_the_amounts_say_no_target_set(as_admin, quota):
    plan, agent = quota
    html = html_of(as_admin.get(f"/admin/plans/{plan.id}?agent_id={agent.id}&month=2026-12", headers=HTMX))
    assert "no target set" in by_testid(html, "amounts-target")
    assert [" ".join(t.text.split()) for t in tags(html, "td")][1] == "no target set"


def test_the_full_page_shows_the_same_amounts_without_javascript(as_admin, quota):
    plan, agent = quota
    page = html_of(as_admin.get(f"/admin/plans/{plan.id}?agent_id={agent.id}&month=2026-11"))
    assert "<html" in page and "$6,172.84" in by_id(page, "bracket-amounts").text


def test_a_bad_month_is_said_and_a_hidden_agent_is_404(as_admin, quota, factory):
    plan, agent = quota
    bad = as_admin.get(f"/admin/plans/{plan.id}?agent_id={agent.id}&month=2026-13", headers=HTMX)
    assert bad.status_code == 422 and "YYYY-MM" in html_of(bad)
    manager = factory.user(Role.MANAGER)
    for agent_id in (manager.id, 999_999):
        assert as_admin.get(f"/admin/plans/{plan.id}?agent_id={agent_id}&month=2026-11", headers=HTMX).status_code == 404


def test_only_the_versions_in_force_that_month_are_shown(as_admin, quota):
    plan, agent = quota
    add_version(None, plan, PlanRules(tiers=[(Decimal(0), Decimal(3)), (Decimal(90), Decimal(5))],
                                      tier_mode="retroactive", basis="target_percent"), date(2026, 11, 16))
    html = html_of(as_admin.get(f"/admin/plans/{plan.id}?agent_id={agent.id}&month=2026-11", headers=HTMX))
    text = " ".join(html.split())
    assert "Version 1" in text and "2026-11-01 to 2026-11-15" in text
    assert "Version 2" in text and "2026-11-16 to 2026-11-30" in text
    assert "$11,111.10" in text  # 90% of 12,345.67 = 11,111.103
    december = " ".join(html_of(as_admin.get(f"/admin/plans/{plan.id}?agent_id={agent.id}&month=2026-12",
                                             headers=HTMX)).split())
    assert "Version 1" not in december and "Version 2" in december


def test_a_plan_without_percent_brackets_has_no_amounts_panel(as_admin, factory):
    plan = factory.plan(tiers=[("0", "2"), ("5000", "4")], tier_mode="marginal")
    page = html_of(as_admin.get(f"/admin/plans/{plan.id}"))
    assert by_id(page, "bracket-amounts") is None and by_id(page, "amounts-agent") is None


def test_managers_and_agents_cannot_open_the_plan_page(app, factory, quota):
    from tests.conftest import browser_as

    plan, agent = quota
    for user in (agent, agent.manager):
        response = browser_as(app, user).get(f"/admin/plans/{plan.id}?agent_id={agent.id}&month=2026-11")
        assert response.status_code in (403, 404)


def test_editing_an_amount_version_keeping_its_brackets_saves(as_admin, factory):
    """Replacing a table whose starts stay (0 always does) must not collide with itself."""
    plan = factory.plan(tiers=[("0", "2"), ("5000", "4")], tier_mode="marginal")
    version = plan.versions[0]
    url = f"/admin/plans/{plan.id}/versions/{version.id}/edit"
    form = _plan_form(tiers=[("0", "3"), ("5000", "4"), ("9000", "5")], tier_mode="marginal")
    form.pop("name"), form.pop("description"), form.pop("effective_from")
    assert as_admin.post(url, form, token_from=url).status_code == 302
    db.session.expire_all()
    assert [(t.from_cents, t.rate_units) for t in db.session.get(PlanVersion, version.id).tiers] == [
        (0, 30000), (500_000, 40000), (900_000, 50000)]
