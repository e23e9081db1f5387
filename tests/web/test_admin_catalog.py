"""Admin catalogue, targets and settings pages: happy paths, role guards, bad input, CSRF."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests.support.rows import count, reload
from tests.web._html import by_id, field_error, redirect_path, tags
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role
from webapp.catalog.models import Category, Product, ProductAssignment
from webapp.commissions.models import Settings, Target
from webapp.extensions import db


def _state() -> tuple:
    """Everything these pages can write: row counts, the audit trail and the settings row."""
    db.session.expire_all()
    settings = db.session.get(Settings, 1)
    return (count(Category), count(Product), count(ProductAssignment), count(Target), count(AuditEvent),
            (settings.company_name, settings.approval_required, settings.period_cadence, settings.grace_hours))


def _product_form(category, **overrides) -> dict:
    """A valid new-product form."""
    form = {"sku": "DESK-100", "name": "Standing desk", "category_id": str(category.id), "list_price": "1250.00"}
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def _edit_form(product, **overrides) -> dict:
    """The edit form as the page sends it for `product`, with changes."""
    form = {"name": product.name, "category_id": str(product.category_id),
            "list_price": f"{product.list_price_cents / 100:.2f}",
            "active": "y" if product.active else None, "restricted": "y" if product.restricted else None}
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def _settings_form(**overrides) -> dict:
    """A valid settings form."""
    form = {"company_name": "Acme Sales", "approval_required": "y", "period_cadence": "monthly",
            "grace_hours": "24"}
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


# --- categories ---------------------------------------------------------------------------------

def test_admin_creates_a_category_that_is_listed_and_audited(as_admin):
    before = count(Category)
    response = as_admin.post("/admin/categories/new", {"code": "Office_Supplies", "name": "Office supplies"})
    assert response.status_code == 302 and redirect_path(response) == "/admin/categories"
    assert count(Category) == before + 1
    category = db.session.scalar(select(Category).where(Category.code == "office_supplies"))
    assert (category.name, category.active) == ("Office supplies", True)
    listing = as_admin.get("/admin/categories").get_data(as_text=True)
    assert "Office supplies" in listing and "office_supplies" in listing
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "category.save",
                                                      AuditEvent.object_id == category.id)).actor_id == as_admin.user.id


def test_admin_renames_a_category_but_its_code_stays(as_admin, factory):
    category = factory.category(code="hw", name="Hardware")
    page = as_admin.get(f"/admin/categories/{category.id}").get_data(as_text=True)
    assert by_id(page, "name").attrs["value"] == "Hardware"
    assert by_id(page, "code") is None
    response = as_admin.post(f"/admin/categories/{category.id}", {"name": "Computer hardware", "code": "evil"})
    assert response.status_code == 302
    category = reload(category)
    assert (category.code, category.name) == ("hw", "Computer hardware")


def test_archived_category_is_marked_and_not_offered_for_new_products(as_admin, factory):
    category = factory.category(name="Legacy stock")
    response = as_admin.post(f"/admin/categories/{category.id}/archive", token_from="/admin/categories")
    assert response.status_code == 302
    assert reload(category).active is False
    assert "Archived" in as_admin.get("/admin/categories").get_data(as_text=True)
    new_product = as_admin.get("/admin/products/new").get_data(as_text=True)
    assert str(category.id) not in [o.attrs.get("value") for o in tags(new_product, "option")]

    as_admin.post(f"/admin/categories/{category.id}/restore", token_from="/admin/categories")
    assert reload(category).active is True


def test_archived_category_stays_offered_to_its_own_products(as_admin, factory):
    category = factory.category(name="Legacy stock")
    product = factory.product(category=category)
    as_admin.post(f"/admin/categories/{category.id}/archive", token_from="/admin/categories")
    page = as_admin.get(f"/admin/products/{product.id}").get_data(as_text=True)
    [selected] = [o for o in tags(page, "option") if "selected" in o.attrs]
    assert selected.attrs["value"] == str(category.id) and "archived" in selected.text
    assert as_admin.post(f"/admin/products/{product.id}", _edit_form(product, name="Renamed")).status_code == 302


@pytest.mark.parametrize("form, field, message", [
    ({"code": "Bad code!", "name": "X"}, "code", "lower-case letters"),
    ({"code": "x", "name": "Too short code"}, "code", "lower-case letters"),
    ({"code": "", "name": "No code"}, "code", "Enter a code."),
    ({"code": "fine_code", "name": ""}, "name", "Enter a name."),
    ({"code": "fine_code", "name": "   "}, "name", "Enter a name"),
    ({"code": "fine_code", "name": "n" * 81}, "name", "at most 80 characters"),
])
def test_bad_category_input_is_refused_beside_the_field(as_admin, form, field, message):
    before = _state()
    response = as_admin.post("/admin/categories/new", form)
    assert response.status_code == 422
    assert message in (field_error(response.get_data(as_text=True), field) or "")
    assert _state() == before


def test_duplicate_category_code_is_refused(as_admin, factory):
    factory.category(code="services")
    before = _state()
    response = as_admin.post("/admin/categories/new", {"code": "SERVICES", "name": "Services again"})
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "code") == "A category with this code exists already."
    assert _state() == before


def test_unknown_category_is_404(as_admin):
    assert as_admin.get("/admin/categories/999999").status_code == 404
    assert as_admin.post("/admin/categories/999999", {"name": "X"}, token_from="/").status_code == 404
    assert as_admin.post("/admin/categories/999999/archive", token_from="/").status_code == 404


# --- products -----------------------------------------------------------------------------------

def test_admin_creates_a_product_listed_with_its_formatted_price(as_admin, factory):
    category = factory.category(name="Furniture")
    before = count(Product)
    response = as_admin.post("/admin/products/new", _product_form(category))
    assert response.status_code == 302 and redirect_path(response) == "/admin/products"
    assert count(Product) == before + 1
    product = db.session.scalar(select(Product).where(Product.sku == "DESK-100"))
    assert (product.name, product.category_id, product.list_price_cents, product.active, product.restricted) == (
        "Standing desk", category.id, 125000, True, False)
    listing = as_admin.get("/admin/products").get_data(as_text=True)
    row = next(t for t in tags(listing, "tr") if "DESK-100" in t.text)
    assert "$1,250.00" in row.text and "Furniture" in row.text and "Active" in row.text
    assert "Every agent" in row.text


def test_admin_edits_every_field_of_a_product(as_admin, factory):
    product = factory.product(sku="CHAIR-1", name="Chair", list_price_cents=9900)
    other = factory.category(name="Seating")
    page = as_admin.get(f"/admin/products/{product.id}").get_data(as_text=True)
    assert by_id(page, "list_price").attrs["value"] == "99.00"
    assert by_id(page, "name").attrs["value"] == "Chair"
    response = as_admin.post(f"/admin/products/{product.id}", _edit_form(
        product, name="Ergonomic chair", category_id=str(other.id), list_price="149.5", restricted="y",
        sku="CHANGED"))
    assert response.status_code == 302
    product = reload(product)
    assert (product.sku, product.name, product.category_id, product.list_price_cents, product.restricted) == (
        "CHAIR-1", "Ergonomic chair", other.id, 14950, True)


def test_unticking_active_on_the_edit_form_archives_the_product(as_admin, factory):
    product = factory.product()
    response = as_admin.post(f"/admin/products/{product.id}", _edit_form(product, active=None))
    assert response.status_code == 302
    assert reload(product).active is False


def test_archiving_a_product_keeps_it_listed_as_archived_and_unsellable(as_admin, factory):
    from webapp.catalog.services import sellable_products

    product = factory.product(sku="OLD-1")
    agent = factory.user(Role.AGENT)
    response = as_admin.post(f"/admin/products/{product.id}/archive", token_from="/admin/products")
    assert response.status_code == 302
    assert reload(product).active is False
    assert product.id not in [p.id for p in sellable_products(agent.id)]
    row = next(t for t in tags(as_admin.get("/admin/products").get_data(as_text=True), "tr") if "OLD-1" in t.text)
    assert "Archived" in row.text and "Restore" in row.text

    as_admin.post(f"/admin/products/{product.id}/restore", token_from="/admin/products")
    assert reload(product).active is True


def test_creating_a_restricted_product_leads_to_choosing_its_agents(as_admin, factory):
    category = factory.category()
    response = as_admin.post("/admin/products/new", _product_form(category, restricted="y"))
    product = db.session.scalar(select(Product).where(Product.sku == "DESK-100"))
    assert product.restricted is True
    assert redirect_path(response) == f"/admin/products/{product.id}/agents"
    row = next(t for t in tags(as_admin.get("/admin/products").get_data(as_text=True), "tr") if "DESK-100" in t.text)
    assert "Assigned agents only" in row.text and "0 agents" in row.text


def test_admin_chooses_the_agents_of_a_restricted_product(as_admin, factory):
    from webapp.catalog.services import sellable_products

    product = factory.product(restricted=True)
    alice, bob = factory.user(Role.AGENT, name="Alice"), factory.user(Role.AGENT, name="Bob")
    gone = factory.user(Role.AGENT, name="Gone Agent", active=False)
    page = as_admin.get(f"/admin/products/{product.id}/agents").get_data(as_text=True)
    assert "Alice" in page and "Bob" in page and "Gone Agent" not in page

    response = as_admin.post(f"/admin/products/{product.id}/agents", {"agent_ids": [str(alice.id)]})
    assert response.status_code == 302
    assert product.id in [p.id for p in sellable_products(alice.id)]
    assert product.id not in [p.id for p in sellable_products(bob.id)]
    page = as_admin.get(f"/admin/products/{product.id}/agents").get_data(as_text=True)
    checked = {t.attrs["value"] for t in tags(page, "input") if t.attrs.get("type") == "checkbox" and "checked" in t.attrs}
    assert checked == {str(alice.id)}

    # Nothing ticked: nobody may sell it any more.
    as_admin.post(f"/admin/products/{product.id}/agents", {})
    assert count(ProductAssignment) == 0
    assert str(gone.id) not in {t.attrs.get("value") for t in tags(page, "input")}


def test_a_deactivated_agent_keeps_an_assignment_when_the_others_are_saved(as_admin, factory):
    from webapp.catalog.services import set_product_agents

    product = factory.product(restricted=True)
    alice = factory.user(Role.AGENT, name="Alice")
    gone = factory.user(Role.AGENT, name="Gone Agent", active=False)
    set_product_agents(None, product, {gone.id})
    page = as_admin.get(f"/admin/products/{product.id}/agents").get_data(as_text=True)
    assert "Gone Agent (deactivated)" in page
    as_admin.post(f"/admin/products/{product.id}/agents", {"agent_ids": [str(alice.id), str(gone.id)]})
    assert set(db.session.scalars(select(ProductAssignment.agent_id))) == {alice.id, gone.id}


@pytest.mark.parametrize("value", ["abc", "manager"])
def test_product_agents_refuse_what_is_not_an_offered_agent(as_admin, factory, value):
    product = factory.product(restricted=True)
    manager = factory.user(Role.MANAGER)
    before = _state()
    response = as_admin.post(f"/admin/products/{product.id}/agents",
                             {"agent_ids": [str(manager.id) if value == "manager" else value]})
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "agent_ids") == "Choose agents from the list."
    assert _state() == before


@pytest.mark.parametrize("overrides, field, message", [
    ({"list_price": "abc"}, "list_price", "plain number"),
    ({"list_price": "-1"}, "list_price", "not negative"),
    ({"list_price": "0"}, "list_price", "greater than zero"),
    ({"list_price": "0.00"}, "list_price", "greater than zero"),
    ({"list_price": "1.234"}, "list_price", "at most two decimals"),
    ({"list_price": "1e3"}, "list_price", "plain number"),
    ({"list_price": "NaN"}, "list_price", "plain number"),
    ({"list_price": "1,250.00"}, "list_price", "plain number"),
    ({"list_price": "100000000000"}, "list_price", "too large"),
    ({"list_price": ""}, "list_price", "Enter the list price."),
    ({"category_id": ""}, "category_id", "Choose a category."),
    ({"category_id": None}, "category_id", "Choose a category."),
    ({"category_id": "abc"}, "category_id", "Choose a category."),
    ({"category_id": "999999"}, "category_id", "Choose a category."),
    ({"sku": "bad sku!"}, "sku", "letters, digits, dots, dashes or underscores"),
    ({"sku": "-leading-dash"}, "sku", "letters, digits, dots, dashes or underscores"),
    ({"sku": "S" * 41}, "sku", "letters, digits, dots, dashes or underscores"),
    ({"sku": ""}, "sku", "Enter a SKU."),
    ({"name": ""}, "name", "Enter a name."),
    ({"name": "n" * 121}, "name", "at most 120 characters"),
])
def test_bad_product_input_is_refused_beside_the_field(as_admin, factory, overrides, field, message):
    category = factory.category()
    before = _state()
    response = as_admin.post("/admin/products/new", _product_form(category, **overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in (field_error(html, field) or ""), html
    assert by_id(html, field).attrs.get("aria-invalid") == "true"
    assert _state() == before


def test_duplicate_sku_in_another_case_is_refused(as_admin, factory):
    factory.product(sku="Desk-100")
    category = factory.category()
    before = _state()
    response = as_admin.post("/admin/products/new", _product_form(category, sku="dESK-100"))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "sku") == "A product with this SKU exists already."
    assert _state() == before


def test_product_in_an_archived_category_cannot_be_created(as_admin, factory):
    category = factory.category()
    category.active = False
    db.session.flush()
    before = _state()
    response = as_admin.post("/admin/products/new", _product_form(category))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "category_id") == "Choose a category."
    assert _state() == before


@pytest.mark.parametrize("price", ["abc", "-1", "0", "1.234", "1e3"])
def test_bad_price_on_edit_changes_nothing(as_admin, factory, price):
    product = factory.product(list_price_cents=5000)
    before = _state()
    response = as_admin.post(f"/admin/products/{product.id}", _edit_form(product, name="Changed", list_price=price))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "list_price")
    assert by_id(html, "list_price").attrs["value"] == price  # what was typed stays, to be corrected
    assert _state() == before
    assert (reload(product).name, reload(product).list_price_cents) == (product.name, 5000)


@pytest.mark.parametrize("method, path", [
    ("get", "/admin/products/{id}"), ("post", "/admin/products/{id}"), ("get", "/admin/products/{id}/agents"),
    ("post", "/admin/products/{id}/agents"), ("post", "/admin/products/{id}/archive"),
    ("post", "/admin/products/{id}/restore"),
])
def test_unknown_product_is_404(as_admin, factory, method, path):
    category = factory.category()
    url = path.format(id=999999)
    if method == "get":
        assert as_admin.get(url).status_code == 404
    else:
        assert as_admin.post(url, _product_form(category), token_from="/").status_code == 404


# --- targets ------------------------------------------------------------------------------------

def test_targets_page_defaults_to_this_month_and_shows_a_target(as_admin, factory, today):
    today(date(2026, 5, 20))
    agent = factory.user(Role.AGENT, name="Alice Agent")
    html = as_admin.get("/admin/targets").get_data(as_text=True)
    assert "May 2026" in html
    assert by_id(html, "month").attrs["value"] == "2026-05"
    assert "Not set" in by_id(html, f"target-row-{agent.id}").text

    response = as_admin.post(f"/admin/targets/{agent.id}?month=2026-05", {"amount": "25000.00"},
                             token_from="/admin/targets")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).query == "month=2026-05"
    target = db.session.scalar(select(Target).where(Target.agent_id == agent.id))
    assert (target.month, target.amount_cents) == (date(2026, 5, 1), 2_500_000)
    html = as_admin.get("/admin/targets").get_data(as_text=True)
    assert "$25,000.00" in by_id(html, f"target-row-{agent.id}").text
    assert by_id(html, f"target-{agent.id}").attrs["value"] == "25000.00"


def test_a_target_belongs_to_the_month_chosen(as_admin, factory, today):
    today(date(2026, 5, 20))
    agent = factory.user(Role.AGENT)
    as_admin.post(f"/admin/targets/{agent.id}?month=2026-07", {"amount": "900"}, token_from="/admin/targets")
    assert "Not set" in by_id(as_admin.get("/admin/targets").get_data(as_text=True), f"target-row-{agent.id}").text
    july = as_admin.get("/admin/targets?month=2026-07").get_data(as_text=True)
    assert "July 2026" in july and "$900.00" in by_id(july, f"target-row-{agent.id}").text
    # Setting it again replaces it.
    as_admin.post(f"/admin/targets/{agent.id}?month=2026-07", {"amount": "950.50"}, token_from="/admin/targets")
    assert [t.amount_cents for t in db.session.scalars(select(Target).where(Target.agent_id == agent.id))] == [95050]


def test_targets_page_lists_active_agents_only(as_admin, factory):
    active = factory.user(Role.AGENT, name="Active Agent")
    gone = factory.user(Role.AGENT, name="Gone Agent", active=False)
    html = as_admin.get("/admin/targets").get_data(as_text=True)
    assert by_id(html, f"target-row-{active.id}") is not None
    assert by_id(html, f"target-row-{gone.id}") is None


def test_htmx_target_save_returns_only_the_row(as_admin, factory):
    agent = factory.user(Role.AGENT)
    response = as_admin.post(f"/admin/targets/{agent.id}?month=2026-05", {"amount": "1200"},
                             token_from="/admin/targets", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and html.strip().startswith(f'<tr id="target-row-{agent.id}"')
    assert "$1,200.00" in html and "Saved" in html
    assert "HX-Request" in response.headers.get("Vary", "")

    response = as_admin.post(f"/admin/targets/{agent.id}?month=2026-05", {"amount": "junk"},
                             token_from="/admin/targets", headers={"HX-Request": "true"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<html" not in html and field_error(html, f"target-{agent.id}")
    assert "$1,200.00" in html  # the stored target is still shown


@pytest.mark.parametrize("amount, message", [
    ("0", "greater than zero"), ("junk", "plain number"), ("-5", "not negative"), ("1.001", "two decimals"),
    ("", "Enter a target amount."),
])
def test_bad_target_is_refused_beside_that_agents_field(as_admin, factory, amount, message):
    agent = factory.user(Role.AGENT)
    other = factory.user(Role.AGENT)
    before = _state()
    response = as_admin.post(f"/admin/targets/{agent.id}?month=2026-05", {"amount": amount},
                             token_from="/admin/targets")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in (field_error(html, f"target-{agent.id}") or "")
    assert field_error(html, f"target-{other.id}") is None
    assert _state() == before


def test_target_for_an_unknown_or_non_agent_user_is_404(as_admin, factory):
    manager = factory.user(Role.MANAGER)
    for user_id in (999999, manager.id, as_admin.user.id):
        response = as_admin.post(f"/admin/targets/{user_id}?month=2026-05", {"amount": "10"},
                                 token_from="/admin/targets")
        assert response.status_code == 404
    assert count(Target) == 0


@pytest.mark.parametrize("month", ["", "2026-13", "junk", "2026-5"])
def test_target_post_for_a_bad_month_is_refused(as_admin, factory, month):
    agent = factory.user(Role.AGENT)
    response = as_admin.post(f"/admin/targets/{agent.id}?month={month}", {"amount": "10"},
                             token_from="/admin/targets")
    assert response.status_code == 400
    assert count(Target) == 0


@pytest.mark.parametrize("month", ["junk", "2026-13", "2026-00", "05-2026"])
def test_targets_page_explains_a_bad_month(as_admin, month):
    response = as_admin.get(f"/admin/targets?month={month}")
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "month") == "Enter a month as YYYY-MM, for example 2026-05."


# --- settings -----------------------------------------------------------------------------------

def test_admin_saves_the_settings(as_admin):
    page = as_admin.get("/admin/settings").get_data(as_text=True)
    assert "next month" in page
    response = as_admin.post("/admin/settings", _settings_form(approval_required=None))
    assert response.status_code == 302 and redirect_path(response) == "/admin/settings"
    db.session.expire_all()
    settings = db.session.get(Settings, 1)
    assert (settings.company_name, settings.approval_required, settings.period_cadence, settings.grace_hours) == (
        "Acme Sales", False, "monthly", 24)
    page = as_admin.get("/admin/settings").get_data(as_text=True)
    assert by_id(page, "company_name").attrs["value"] == "Acme Sales"
    assert "checked" in by_id(page, "period_cadence-1").attrs  # monthly
    assert "checked" not in by_id(page, "approval_required").attrs
    assert by_id(page, "grace_hours").attrs["value"] == "24"


@pytest.mark.parametrize("value", ["0", "720"])
def test_grace_time_bounds_are_accepted(as_admin, value):
    assert as_admin.post("/admin/settings", _settings_form(grace_hours=value)).status_code == 302


@pytest.mark.parametrize("overrides, field, message", [
    ({"grace_hours": "-1"}, "grace_hours", "between 0 and 720 hours"),
    ({"grace_hours": "721"}, "grace_hours", "between 0 and 720 hours"),
    ({"grace_hours": "junk"}, "grace_hours", "whole number of hours"),
    ({"grace_hours": "1.5"}, "grace_hours", "whole number of hours"),
    ({"grace_hours": "1_0"}, "grace_hours", "whole number of hours"),
    ({"grace_hours": ""}, "grace_hours", "whole number of hours"),
    ({"period_cadence": "weekly"}, "period_cadence", "Choose semi-monthly or monthly."),
    ({"company_name": ""}, "company_name", "Enter the company name."),
    ({"company_name": "c" * 121}, "company_name", "at most 120 characters"),
])
def test_bad_settings_are_refused_beside_the_field(as_admin, overrides, field, message):
    before = _state()
    response = as_admin.post("/admin/settings", _settings_form(**overrides))
    assert response.status_code == 422
    assert message in (field_error(response.get_data(as_text=True), field) or "")
    assert _state() == before


# --- guards, CSRF and page hygiene --------------------------------------------------------------

def _pages(factory) -> list[str]:
    """Every GET page added here, with real ids."""
    product = factory.product(restricted=True)
    return ["/admin/categories", "/admin/categories/new", f"/admin/categories/{product.category_id}",
            "/admin/products", "/admin/products/new", f"/admin/products/{product.id}",
            f"/admin/products/{product.id}/agents", "/admin/targets", "/admin/targets?month=2026-01",
            "/admin/settings"]


def _post_routes(factory) -> list[tuple[str, dict]]:
    """Every POST route added here, with a valid-looking form."""
    product = factory.product(restricted=True)
    agent = factory.user(Role.AGENT)
    category_id = product.category_id
    return [
        ("/admin/categories/new", {"code": "forged", "name": "Forged"}),
        (f"/admin/categories/{category_id}", {"name": "Forged"}),
        (f"/admin/categories/{category_id}/archive", {}),
        (f"/admin/categories/{category_id}/restore", {}),
        ("/admin/products/new", {"sku": "FORGED", "name": "Forged", "category_id": str(category_id),
                                 "list_price": "1"}),
        (f"/admin/products/{product.id}", {"name": "Forged", "category_id": str(category_id), "list_price": "1"}),
        (f"/admin/products/{product.id}/archive", {}),
        (f"/admin/products/{product.id}/restore", {}),
        (f"/admin/products/{product.id}/agents", {"agent_ids": [str(agent.id)]}),
        (f"/admin/targets/{agent.id}?month=2026-05", {"amount": "100"}),
        ("/admin/settings", _settings_form(company_name="Forged")),
    ]


@pytest.mark.parametrize("role", ["as_manager", "as_agent"])
def test_managers_and_agents_are_refused_every_page(request, factory, role):
    browser = request.getfixturevalue(role)
    for path in _pages(factory):
        assert browser.get(path).status_code == 403, path
    before = _state()
    for path, form in _post_routes(factory):
        assert browser.post(path, form, token_from="/").status_code == 403, path
    assert _state()[:2] == (before[0] + 1, before[1] + 1)  # only the factory's own rows
    assert _state()[2:] == before[2:]


def test_anonymous_visitors_are_sent_to_sign_in(client, factory):
    for path in _pages(factory):
        response = client.get(path)
        assert response.status_code == 302 and redirect_path(response) == "/login", path


def test_every_post_needs_the_csrf_token(as_admin, factory):
    routes = _post_routes(factory)
    before = _state()
    for path, form in routes:
        response = as_admin.client.post(path, data=form)
        assert response.status_code == 400, path
        assert "This form has expired" in response.get_data(as_text=True)
    assert _state() == before


def test_pages_label_every_control_and_use_no_inline_style(as_admin, factory):
    factory.user(Role.AGENT)
    pages = {path: as_admin.get(path).get_data(as_text=True) for path in _pages(factory)}
    pages["bad product"] = as_admin.post("/admin/products/new", {"list_price": "x"}).get_data(as_text=True)
    pages["bad settings"] = as_admin.post("/admin/settings", {"grace_hours": "x"}).get_data(as_text=True)
    for page, html in pages.items():
        labelled = {label.attrs.get("for") for label in tags(html, "label")}
        for control in tags(html, "input") + tags(html, "select") + tags(html, "textarea"):
            if control.attrs.get("type") in {"hidden", "submit", "button"}:
                continue
            assert control.attrs.get("id") in labelled, (page, control.attrs)
        ids = [t.attrs["id"] for t in tags(html) if t.attrs.get("id")]
        assert len(ids) == len(set(ids)), (page, ids)
        assert not [t for t in tags(html) if "style" in t.attrs or t.name == "style"], page
        for control in tags(html, "input") + tags(html, "select"):
            described = control.attrs.get("aria-describedby")
            if described:
                assert by_id(html, described) is not None, (page, control.attrs)


def test_admin_navigation_offers_catalogue_targets_and_settings(as_admin):
    html = as_admin.get("/").get_data(as_text=True)
    [nav] = [n for n in tags(html, "nav") if n.attrs.get("aria-label") == "Main"]
    for label in ("Catalogue", "Targets", "Settings"):
        assert label in nav.text
