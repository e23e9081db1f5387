"""Single-line text that can reach an email subject or a PDF heading (product, category, customer,
user, plan and token names, the company name, payout references) refuses control characters
(CR, LF, NUL, other C0/C1) and the bidirectional controls and marks; multi-line text (notes,
reasons, messages) keeps line breaks but refuses NUL, other controls and bidi overrides/isolates.
One validator (webapp.formtools), used by the forms and by the services, so the API and the CSV
import are covered too (issue 12, item 3)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import browser_as
from tests.support.rows import count
from tests.web._api import API, error_of, headers_for
from tests.web._html import field_error, html_of
from webapp.auth.tokens import create_token
from webapp.auth.models import Role, User
from webapp.auth.services import create_user, update_user
from webapp.catalog.models import Category, Customer, Product
from webapp.catalog.services import create_customer, save_category, save_product
from webapp.commissions.adjustments import add_manual_adjustment
from webapp.commissions.models import CommissionPlan, Payout, Settings
from webapp.commissions.payouts import record_payout
from webapp.commissions.periods import get_settings, update_settings
from webapp.commissions.plans import PlanRules, create_plan
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.formtools import plain_text_problem
from webapp.sales import imports
from webapp.sales.models import Sale
from webapp.statements.models import StatementRun

TODAY = date(2026, 11, 20)

ONE_LINE_REFUSED = {
    "LF": "\n", "CR": "\r", "NUL": "\x00", "TAB": "\t", "BEL": "\x07", "ESC": "\x1b", "DEL": "\x7f",
    "NEL (C1)": "\x85", "CSI (C1)": "\x9b", "LRE": "\u202a", "RLE": "\u202b", "PDF": "\u202c",
    "LRO": "\u202d", "RLO": "\u202e", "LRI": "\u2066", "RLI": "\u2067", "FSI": "\u2068", "PDI": "\u2069",
    "LRM": "\u200e", "RLM": "\u200f", "ALM": "\u061c", "LINE SEPARATOR": "\u2028",
}
MULTI_LINE_KEPT = {"LF": "\n", "CR LF": "\r\n", "TAB": "\t", "LRM": "\u200e", "RLM": "\u200f", "ALM": "\u061c"}
MULTI_LINE_REFUSED = {name: char for name, char in ONE_LINE_REFUSED.items()
                      if name not in MULTI_LINE_KEPT and name not in ("CR", "LINE SEPARATOR")}
RLO = "\u202e"


# --- the rule ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("char", ONE_LINE_REFUSED.values(), ids=ONE_LINE_REFUSED.keys())
def test_one_line_text_refuses_controls_and_direction_characters(char):
    problem = plain_text_problem(f"Widget{char}Pro")
    assert problem is not None and f"(U+{ord(char):04X})" in problem
    assert problem.startswith("Use one line of plain text: remove the ")


@pytest.mark.parametrize("char", MULTI_LINE_KEPT.values(), ids=MULTI_LINE_KEPT.keys())
def test_multi_line_text_keeps_line_breaks_tabs_and_direction_marks(char):
    assert plain_text_problem(f"First line{char}second line", multiline=True) is None


@pytest.mark.parametrize("char", MULTI_LINE_REFUSED.values(), ids=MULTI_LINE_REFUSED.keys())
def test_multi_line_text_refuses_nul_controls_and_direction_overrides(char):
    assert plain_text_problem(f"Refund{char}100", multiline=True) == (
        f"Remove the {plain_text_problem(char).split('remove the ')[1]}")


@pytest.mark.parametrize("text", ["Acme Clinics", "Café Müller GmbH", "東京メディカル", "مستشفى الشفاء",
                                  "שלום", "O'Brien & Sons (Pty) Ltd.", "Zürich – Nord", "😀 Smile Co"])
def test_ordinary_names_in_any_script_are_plain_text(text):
    assert plain_text_problem(text) is None and plain_text_problem(text, multiline=True) is None


def test_the_message_names_the_character():
    assert plain_text_problem("Desk\r\nBcc: x@example.com") == (
        "Use one line of plain text: remove the carriage return (U+000D).")
    assert plain_text_problem(f"Desk{RLO}kseD") == (
        "Use one line of plain text: remove the invisible text-direction character (U+202E).")
    assert plain_text_problem("Desk\x07") == "Use one line of plain text: remove the invisible control character (U+0007)."


# --- services (what the API and the CSV import call) ----------------------------------------------------


def _services(factory):
    """(field, call with a text) for every service that stores a single-line or multi-line text."""
    admin, manager = factory.user(Role.ADMIN), factory.user(Role.MANAGER)
    agent = factory.user(Role.AGENT, manager=manager)
    category = factory.category()
    rules = PlanRules(base_rate="3")
    return {
        "category name": ("name", lambda t: save_category(admin, None, code="new_cat", name=t)),
        "category rename": ("name", lambda t: save_category(admin, category, code="", name=t)),
        "product name": ("name", lambda t: save_product(admin, None, sku="NEW-1", name=t, category_id=category.id,
                                                          list_price_cents=100)),
        "customer name": ("customer_name", lambda t: create_customer(agent, name=t)),
        "user name": ("name", lambda t: create_user(admin, email="new@example.com", name=t, role="manager",
                                                     password="tangerine-Kettle-49-orbit")),
        "user rename": ("name", lambda t: update_user(admin, agent, name=t, role="agent",
                                                       manager_id=manager.id, active=True)),
        "plan name": ("name", lambda t: create_plan(admin, name=t, description=None, rules=rules,
                                                     effective_from=TODAY)),
        "company name": ("company_name", lambda t: update_settings(admin, company_name=t, approval_required=True,
                                                                   period_cadence="monthly", grace_hours=24)),
        "payout reference": ("reference", lambda t: record_payout(manager, agent_id=agent.id, amount_cents=100,
                                                                  paid_on=TODAY, reference=t, advance=True)),
        "token name": ("name", lambda t: create_token(agent, name=t)),
    }


@pytest.mark.parametrize("service", ["category name", "category rename", "product name", "customer name",
                                     "user name", "user rename", "plan name", "company name", "payout reference",
                                     "token name"])
@pytest.mark.parametrize("char", ["\r\n", "\x00", RLO, "\u200f"], ids=["CRLF", "NUL", "RLO", "RLM"])
def test_every_service_refuses_it_naming_the_field_and_writes_nothing(factory, today, service, char):
    today(TODAY)
    field, call = _services(factory)[service]
    before = (count(Category), count(Product), count(Customer), count(User), count(CommissionPlan), count(Payout),
              get_settings().company_name)
    with pytest.raises(ServiceError) as refused:
        call(f"Acme{char}Evil")
    assert (refused.value.field, refused.value.status) == (field, 422)
    assert (count(Category), count(Product), count(Customer), count(User), count(CommissionPlan), count(Payout),
            get_settings().company_name) == before


def test_multi_line_services_keep_line_breaks_and_refuse_overrides(factory, today):
    today(TODAY)
    manager = factory.user(Role.MANAGER)
    agent = factory.user(Role.AGENT, manager=manager)
    entry = add_manual_adjustment(manager, agent.id, 500, "Bonus for Q4\nsee the email of 3 Nov")
    assert entry.reason == "Bonus for Q4\nsee the email of 3 Nov"
    with pytest.raises(ServiceError) as refused:
        add_manual_adjustment(manager, agent.id, 500, f"Bonus {RLO}0001")
    assert refused.value.field == "reason"


# --- forms: beside the field, 422, nothing written --------------------------------------------------------


LF_MESSAGE = "Use one line of plain text: remove the line break (U+000A)."
RLO_MESSAGE = "Use one line of plain text: remove the invisible text-direction character (U+202E)."


def test_admin_forms_refuse_it_beside_the_field(as_admin, factory):
    category = factory.category()
    product = factory.product(category=category)
    user = factory.user(Role.MANAGER)
    before = (count(Category), count(Product), count(User))
    cases = [
        ("/admin/categories/new", {"code": "evil_cat", "name": "Chairs\nBcc: x"}, "name", LF_MESSAGE),
        (f"/admin/categories/{category.id}", {"name": f"Chairs{RLO}"}, "name", RLO_MESSAGE),
        ("/admin/products/new", {"sku": "EVIL-1", "name": "Desk\r\nX-Header: 1", "category_id": str(category.id),
                                 "list_price": "10.00"}, "name",
         "Use one line of plain text: remove the carriage return (U+000D)."),
        (f"/admin/products/{product.id}", {"name": f"Desk{RLO}", "category_id": str(category.id),
                                          "list_price": "10.00", "active": "y"}, "name", RLO_MESSAGE),
        ("/admin/users/new", {"email": "evil@example.com", "name": "Eve\nAdmin", "role": "manager",
                              "manager_id": "", "password": "tangerine-Kettle-49-orbit"}, "name", LF_MESSAGE),
        (f"/admin/users/{user.id}", {"name": f"Eve{RLO}", "role": "manager", "manager_id": "", "active": "y"},
         "name", RLO_MESSAGE),
        ("/admin/settings", {"company_name": "Acme\nSales", "approval_required": "y", "period_cadence": "monthly",
                             "grace_hours": "24", "reminder_days": "15"}, "company_name", LF_MESSAGE),
    ]
    for url, data, field, message in cases:
        response = as_admin.post(url, data)
        assert response.status_code == 422, (url, response.status_code)
        assert field_error(html_of(response), field) == message, url
    db.session.expire_all()
    assert (count(Category), count(Product), count(User)) == before
    assert (db.session.get(Product, product.id).name, db.session.get(User, user.id).name,
            db.session.get(Settings, 1).company_name) == (product.name, user.name, "Sales Tracking")


def test_the_token_form_refuses_it_beside_the_field(as_agent):
    response = as_agent.post("/profile/tokens", {"name": f"Shop{RLO}", "scope": "read"})
    assert response.status_code == 422
    assert field_error(html_of(response), "name") == RLO_MESSAGE


@pytest.fixture
def agent_with_product(app, build, factory):
    """A signed-in agent on a plan, and a product they may sell."""
    from tests.web.test_agent_portal import TODAY as PORTAL_TODAY

    build.on(PORTAL_TODAY)
    return browser_as(app, build.agent()), factory.product()


@pytest.mark.parametrize("changes, field, message", [
    ({"customer": "Acme\tClinics"}, "customer", "Use one line of plain text: remove the tab (U+0009)."),
    ({"customer": f"Acme{RLO}"}, "customer", RLO_MESSAGE),
    ({"note": f"Paid {RLO}0001"}, "note", "Remove the invisible text-direction character (U+202E)."),
])
def test_the_sale_form_refuses_it_beside_the_field(agent_with_product, changes, field, message):
    from tests.web.test_agent_portal import _post_sale, _sale_form

    browser, product = agent_with_product
    before = (count(Sale), count(Customer))
    response = _post_sale(browser, _sale_form(browser, product, **changes), htmx=True)
    assert response.status_code == 422
    assert field_error(html_of(response), field) == message
    assert (count(Sale), count(Customer)) == before


def test_a_sale_note_keeps_its_line_breaks(agent_with_product):
    from tests.web.test_agent_portal import _post_sale, _sale_form

    browser, product = agent_with_product
    response = _post_sale(browser, _sale_form(browser, product, note="Met at the fair\r\nCall back Monday"))
    assert response.status_code == 302
    assert db.session.scalar(select(Sale.note).order_by(Sale.id.desc()).limit(1)) == (
        "Met at the fair\r\nCall back Monday")


def test_the_send_statements_message_refuses_an_override(app, factory, today):
    today(TODAY)
    manager = factory.user(Role.MANAGER)
    agent = factory.user(Role.AGENT, manager=manager)
    response = browser_as(app, manager).post("/statements/send", {"start": "2026-11-01", "end": "2026-11-20",
                                                                  "agent_ids": [agent.id], "message": f"Hi {RLO}!"})
    assert response.status_code == 422
    assert field_error(html_of(response), "message") == "Remove the invisible text-direction character (U+202E)."
    assert count(StatementRun) == 0


# --- the API: 422 naming the field -------------------------------------------------------------------------


@pytest.mark.parametrize("char", ["\r\n", "\x00", RLO, "\x85"], ids=["CRLF", "NUL", "RLO", "NEL"])
def test_api_product_names_are_refused_naming_the_field(api, factory, char):
    admin = headers_for(factory.user(Role.ADMIN))
    category = factory.category(code="api_cat")
    product = factory.product(category=category)
    before = count(Product)
    created = api.post(f"{API}/products", headers=admin,
                       json={"sku": "API-1", "name": f"Desk{char}Pro", "category": "api_cat", "list_price": "1.00"})
    assert set(error_of(created, 422)["fields"]) == {"name"}
    patched = api.patch(f"{API}/products/{product.id}", headers=admin, json={"name": f"Desk{char}Pro"})
    assert set(error_of(patched, 422)["fields"]) == {"name"}
    db.session.expire_all()
    assert (count(Product), db.session.get(Product, product.id).name) == (before, product.name)


def test_api_sales_refuse_a_bad_customer_name_or_note_and_keep_line_breaks(api, factory, today):
    from tests.web.test_agent_portal import TODAY as PORTAL_TODAY

    today(PORTAL_TODAY)
    agent = factory.user(Role.AGENT)
    factory.assign(agent, factory.plan(base_rate="3"))
    product = factory.product()
    headers = headers_for(agent)
    body = {"product_id": product.id, "quantity": 1, "sold_on": PORTAL_TODAY.isoformat(), "customer_name": "Acme"}
    before = (count(Sale), count(Customer))
    bad_name = api.post(f"{API}/sales", headers=headers, json={**body, "customer_name": "Acme\r\nBcc: x"})
    assert error_of(bad_name, 422)["fields"] == {
        "customer_name": "Use one line of plain text: remove the carriage return (U+000D)."}
    bad_note = api.post(f"{API}/sales", headers=headers, json={**body, "note": f"ok{RLO}"})
    assert error_of(bad_note, 422)["fields"] == {"note": "Remove the invisible text-direction character (U+202E)."}
    assert (count(Sale), count(Customer)) == before
    good = api.post(f"{API}/sales", headers=headers, json={**body, "note": "line one\nline two"})
    assert good.status_code == 201 and good.json["note"] == "line one\nline two"


def test_api_reasons_and_run_messages_refuse_overrides(api, factory, today):
    today(TODAY)
    manager = factory.user(Role.MANAGER)
    agent = factory.user(Role.AGENT, manager=manager)
    factory.assign(agent, factory.plan(base_rate="3"))
    sale = factory.sale(agent, "100.00", date(2026, 11, 5), approve=False)
    headers = headers_for(manager)
    rejected = api.post(f"{API}/sales/{sale.id}/reject", headers=headers, json={"reason": f"No{RLO}"})
    assert set(error_of(rejected, 422)["fields"]) == {"reason"}
    run = api.post(f"{API}/statements/runs", headers=headers,
                   json={"start": "2026-11-01", "end": "2026-11-20", "agent_ids": [agent.id], "message": f"Hi{RLO}"})
    assert set(error_of(run, 422)["fields"]) == {"message"}
    assert count(StatementRun) == 0
    db.session.expire_all()
    assert db.session.get(Sale, sale.id).status == "pending"


# --- the CSV import: the row and column named -----------------------------------------------------------------


def test_the_csv_import_refuses_it_on_the_row_and_column(factory, today):
    today(TODAY)
    manager = factory.user(Role.MANAGER)
    ann = factory.user(Role.AGENT, manager=manager, email="ann.plain@example.com")
    factory.assign(ann, factory.plan(base_rate="3"))
    factory.product(sku="WID-9")
    header = "key,agent_email,sku,customer,quantity,unit_price,date,note"
    rows = ['r-0001,ann.plain@example.com,WID-9,"Acme\r\nBcc: x",1,10.00,2026-11-03,',
            f"r-0002,ann.plain@example.com,WID-9,Acme{RLO}Corp,1,10.00,2026-11-03,",
            f"r-0003,ann.plain@example.com,WID-9,Good Corp,1,10.00,2026-11-03,paid {RLO}0001",
            'r-0004,ann.plain@example.com,WID-9,Good Corp,1,10.00,2026-11-03,"two\nlines"']
    result = imports.run_import(manager, ("\r\n".join([header, *rows]) + "\r\n").encode())
    assert not result.ok
    assert [(e.line, e.column, e.message) for e in result.errors] == [
        (2, "customer", "Use one line of plain text: remove the carriage return (U+000D)."),
        (4, "customer", RLO_MESSAGE),
        (5, "note", "Remove the invisible text-direction character (U+202E)."),
    ]
