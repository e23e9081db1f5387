"""Authorization matrix: every rule of the URL map x GET/POST(/PATCH) x anonymous, agent, manager
(of another team) and admin, with ids of team B's objects.

Every endpoint must be classified below. A new route that is in no list fails
`test_every_route_is_classified`: decide who may use it and add it to ACCESS (and to OWNED if its
URL names an object that belongs to an agent or a team).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import inspect

from tests.security._world import ROLES, World, row_counts

# --- Public endpoints: reachable without signing in, on purpose. ---------------------------------
PUBLIC = {
    "static",                      # CSS/JS/images
    "auth.login",                  # the sign-in form
    "auth.forgot_password",        # asks for a reset mail (rate limited, says the same for any email)
    "auth.reset_password",         # the token in the URL is the credential
    "main.healthz",                # load balancer probe: no data
    "api.openapi_document",        # the API's description, no data
    "api.docs",                    # the page rendering that description
    "mail_webhooks.mailchimp",     # signed by Mailchimp (X-Mandrill-Signature): 403 without it
}

# --- Everything else: who may use it. -------------------------------------------------------------
SIGNED_IN, AGENT, STAFF, ADMIN = "signed_in", "agent", "staff", "admin"
ALLOWED = {SIGNED_IN: {"agent", "manager", "admin"}, AGENT: {"agent"}, STAFF: {"manager", "admin"},
           ADMIN: {"admin"}}

ACCESS = {
    # any signed-in user
    "main.home": SIGNED_IN, "auth.logout": SIGNED_IN, "auth.sign_out_everywhere": SIGNED_IN,
    "api_tokens.tokens_page": SIGNED_IN, "api_tokens.revoke": SIGNED_IN,
    "sales.detail": SIGNED_IN,
    "statements.index": SIGNED_IN, "statements.detail": SIGNED_IN, "statements.status": SIGNED_IN,
    "statements.pdf": SIGNED_IN, "statements.resend": SIGNED_IN, "statements.run": SIGNED_IN,
    # agents only (their own work)
    "sales.dashboard": AGENT, "sales.totals": AGENT, "sales.spiffs_panel": AGENT, "sales.create": AGENT, "sales.estimate": AGENT,
    "sales.customer_search": AGENT, "sales.customer_pick": AGENT, "sales.my_sales": AGENT,
    "sales.co_agent_search": AGENT, "sales.co_agent_pick": AGENT,  # any active agent may be a co-agent
    "sales.edit": AGENT, "sales.cancel": AGENT, "sales.my_products": AGENT, "sales.attainment_panel": AGENT,
    "sales.my_disputes": AGENT, "sales.my_dispute": AGENT, "sales.my_dispute_reply": AGENT,
    "sales.dispute_entry": AGENT, "statements.request_statement": AGENT,
    # managers (their team) and admins
    "review.queue": STAFF, "review.counters": STAFF, "review.approve": STAFF, "review.reject": STAFF,
    "review.bulk": STAFF, "review.void_sale": STAFF, "review.team": STAFF, "review.agent_detail": STAFF,
    "review.add_adjustment": STAFF, "review.record_payout": STAFF, "review.payouts": STAFF,
    "review.reverse_payout": STAFF, "review.pay_period_confirm": STAFF, "review.pay_period": STAFF,
    "review.disputes": STAFF, "review.dispute_detail": STAFF, "review.dispute_reply": STAFF,
    "review.dispute_accept": STAFF, "review.dispute_reject": STAFF,
    "review.periods_page": STAFF, "review.period_close": STAFF, "review.period_close_confirm": STAFF,
    "review.exports_page": STAFF, "review.export_sales": STAFF, "review.export_ledger": STAFF,
    "review.imports_page": STAFF, "review.import_template": STAFF, "review.import_preview": STAFF,
    "review.import_confirm": STAFF,
    "statements.send": STAFF, "statements.issue": STAFF, "statements.render_again": STAFF,
    # admins only
    "admin.users": ADMIN, "admin.user_new": ADMIN, "admin.user_edit": ADMIN, "admin.audit": ADMIN,
    "admin.outbox": ADMIN, "admin.outbox_message": ADMIN, "admin.outbox_html": ADMIN,
    "admin.outbox_attachment": ADMIN, "admin.categories": ADMIN, "admin.category_new": ADMIN,
    "admin.category_edit": ADMIN, "admin.category_archive": ADMIN, "admin.category_restore": ADMIN,
    "admin.products": ADMIN, "admin.product_new": ADMIN, "admin.product_edit": ADMIN,
    "admin.product_agents": ADMIN, "admin.product_archive": ADMIN, "admin.product_restore": ADMIN,
    "admin.target_remove": ADMIN,
    "admin.plans": ADMIN, "admin.plan_new": ADMIN, "admin.plan_detail": ADMIN, "admin.version_new": ADMIN,
    "admin.version_edit": ADMIN, "admin.plan_assignments": ADMIN, "admin.assignment_end": ADMIN,
    "admin.plan_simulator": ADMIN, "admin.settings": ADMIN, "admin.targets": ADMIN, "admin.target_set": ADMIN,
    "admin.targets_import": ADMIN,
    "admin.spiff_new": ADMIN, "admin.spiff_version_new": ADMIN, "admin.spiff_end": ADMIN,
    "admin.spiff_recompute": ADMIN, "admin.spiff_recompute_retry": ADMIN,
    # SPIFFs: managers read them and see what their own team earned
    "admin.spiffs_list": STAFF, "admin.spiff_detail": STAFF,
    # Plan documents, the agent's side (issue 15): the list and acknowledging are the agent's own;
    # a document and its PDFs are seen by its agent, their manager and admins
    "plandocs.my_documents": AGENT, "plandocs.acknowledge": AGENT, "plandocs.document": SIGNED_IN,
    "plandocs.document_pdf": SIGNED_IN, "plandocs.acknowledged_pdf": SIGNED_IN,
    # JSON API (bearer token)
    "api.me": SIGNED_IN, "api.list_products": SIGNED_IN, "api.get_product": SIGNED_IN, "api.create_product": ADMIN,
    "api.update_product": ADMIN, "api.create_sale": SIGNED_IN, "api.list_sales": SIGNED_IN,
    "api.get_sale": SIGNED_IN, "api.sale_entries": SIGNED_IN, "api.approve_sale": STAFF, "api.reject_sale": STAFF, "api.void_sale": STAFF,
    "api.agent_commissions": SIGNED_IN, "api.estimate": SIGNED_IN, "api.list_statements": SIGNED_IN,
    "api.get_statement": SIGNED_IN, "api.statement_pdf": SIGNED_IN, "api.start_run": SIGNED_IN,
    "api.get_run": SIGNED_IN, "api.list_spiffs": SIGNED_IN,
    # Plan documents through the API (issue 15, API and audit): agents their own, managers their team's
    "api.update_sale": SIGNED_IN, "api.cancel_sale": SIGNED_IN,
    "api.list_entries": SIGNED_IN, "api.create_adjustment": STAFF,
    "api.list_periods": STAFF, "api.close_preview": STAFF, "api.close_period": STAFF,
    "api.payment_plan": STAFF, "api.pay_closed_period": STAFF,
    "api.export_sales": STAFF, "api.export_ledger": STAFF,
    "api.list_categories": SIGNED_IN, "api.create_category": ADMIN, "api.update_category": ADMIN,
    "api.product_agents": ADMIN, "api.set_product_agents": ADMIN,
    "api.list_plans": ADMIN, "api.get_plan": ADMIN, "api.create_version": ADMIN, "api.list_assignments": ADMIN,
    "api.create_assignment": ADMIN, "api.end_plan_assignment": ADMIN, "api.list_targets": ADMIN,
    "api.get_operation": STAFF,
    "api.set_target": ADMIN, "api.create_spiff": ADMIN, "api.create_spiff_version": ADMIN, "api.end_spiff": ADMIN,
    "api.list_disputes": SIGNED_IN, "api.get_dispute": SIGNED_IN, "api.open_dispute": AGENT,
    "api.add_message": SIGNED_IN, "api.accept_dispute": STAFF, "api.reject_dispute": STAFF,
    "api.list_customers": SIGNED_IN, "api.get_customer": SIGNED_IN, "api.create_customer": SIGNED_IN,
    "api.list_agents": STAFF, "api.get_agent": STAFF,
    "api.list_payouts": STAFF, "api.get_payout": STAFF, "api.record_payout": STAFF, "api.reverse_payout": STAFF,
    "api.list_plan_documents": SIGNED_IN, "api.get_plan_document": SIGNED_IN,
    "api.plan_document_pdf": SIGNED_IN, "api.plan_acknowledgement_pdf": SIGNED_IN,
    # Plan questions (issue 15): the agent asks about their own document; the team's manager answers
    # (team B's dispute is a line's: an admin's answer is refused with 409, still "allowed").
    "plandocs.ask_question": AGENT, "review.dispute_answer": STAFF,
    # Plan documents, follow-up (issue 15 item 3): the team's list; the company's list and its CSV
    "plandocs.team_documents": STAFF, "plandocs.company_documents": ADMIN, "plandocs.export_csv": ADMIN,
    # Background operations (issue 16): admins any, a manager those they started, agents none (404)
    "operations.operation": SIGNED_IN, "operations.retry": SIGNED_IN,
    # Webhooks (issue 17 item 2): company-wide, so admins only, on the page and in the API
    "admin.webhooks_page": ADMIN, "admin.webhook_detail": ADMIN, "admin.webhook_active": ADMIN,
    "admin.webhook_send_again": ADMIN,
    "api.list_webhooks": ADMIN, "api.create_webhook": ADMIN, "api.get_webhook": ADMIN, "api.update_webhook": ADMIN,
    "api.list_deliveries": ADMIN, "api.send_delivery_again": ADMIN, "api.list_events": ADMIN,
    # The page actions that had no operation (issue 17 item 1): as their pages allow
    "api.create_plan": ADMIN, "api.get_version": ADMIN, "api.update_version": ADMIN,
    "api.acknowledge_document": AGENT, "api.ask_question": AGENT, "api.answer_question": STAFF,
    "api.retry_operation": STAFF, "api.resend_statement": SIGNED_IN, "api.render_statement_again": STAFF,
    "api.get_spiff_recompute": ADMIN, "api.retry_spiff_recompute": ADMIN,
    "api.list_users": ADMIN, "api.get_user": ADMIN, "api.create_user": ADMIN, "api.update_user": ADMIN,
    "api.get_settings": ADMIN, "api.update_settings": ADMIN, "api.decide_sales": STAFF,
    "api.issue_period_statements": STAFF, "api.simulate_plan": ADMIN, "api.list_audit_events": ADMIN,
    "api.import_sales": STAFF, "api.import_targets": ADMIN,
}

# Endpoints whose URL names an object of team B (an agent, their sale, ledger line, dispute, payout,
# statement, run or token): the agent of team A and the manager of team A must get 404 — the object
# "does not exist" for them — where their role is otherwise allowed.
OWNED = {
    "api_tokens.revoke", "sales.detail", "sales.edit", "sales.cancel", "sales.my_dispute",
    "sales.my_dispute_reply", "sales.dispute_entry",
    "statements.detail", "statements.status", "statements.pdf", "statements.resend", "statements.run",
    "statements.render_again",
    "review.approve", "review.reject", "review.void_sale", "review.agent_detail", "review.add_adjustment",
    "review.record_payout", "review.reverse_payout", "review.dispute_detail", "review.dispute_reply",
    "review.dispute_accept", "review.dispute_reject",
    "review.import_preview", "review.import_confirm",  # an unknown upload id: 404 for everyone
    "api.get_sale", "api.sale_entries", "api.approve_sale", "api.reject_sale", "api.void_sale",
    "api.agent_commissions", "api.get_statement", "api.statement_pdf", "api.get_run",
    # plan documents, the agent's side (issue 15)
    "plandocs.document", "plandocs.acknowledge", "plandocs.document_pdf", "plandocs.acknowledged_pdf",
    # Plan documents through the API (issue 15, API and audit): team B's document
    "api.get_plan_document", "api.plan_document_pdf", "api.plan_acknowledgement_pdf",
    # Payouts through the API (issue 17): team B's payout
    "api.get_payout", "api.reverse_payout", "api.get_agent", "api.update_sale", "api.cancel_sale",
    "api.get_dispute", "api.add_message", "api.accept_dispute", "api.reject_dispute", "api.get_operation",
    # Plan questions (issue 15): team B's document, team B's dispute.
    "plandocs.ask_question", "review.dispute_answer",
    # Background operations (issue 16): team B's manager's operation.
    "operations.operation", "operations.retry",
    # The page actions through the API (issue 17): team B's document, dispute, operation, statement.
    "api.acknowledge_document", "api.ask_question", "api.answer_question", "api.retry_operation",
    "api.resend_statement", "api.render_statement_again",
}
# Owned objects that do not exist at all (string ids): 404 for admins too.
MISSING_FOR_ALL = {"review.import_preview", "review.import_confirm", "admin.outbox_message",
                   "admin.outbox_html", "admin.outbox_attachment", "admin.spiff_recompute",
                   "admin.spiff_recompute_retry", "api.get_spiff_recompute", "api.retry_spiff_recompute"}

MUTATING = ("POST", "PATCH", "PUT", "DELETE")
# A form/body that would do something on most routes if a guard let it through.
FORM = {"reason": "matrix", "comment": "matrix", "body": "matrix", "amount": "1.00", "note": "matrix",
        "reference": "matrix", "paid_on": "2026-11-20", "effective_on": "2026-11-20", "kind": "bonus",
        "message": "matrix", "name": "Matrix", "email": "matrix@example.com", "role": "admin",
        "password": "matrix-password-1", "sale_ids": "1"}


def _json_body(world: World, endpoint: str) -> dict | None:
    """A valid body for the API operation; ids in bodies are team B's (checked via BODY_OWNED)."""
    b = world.agent_b.id
    return {
        "api.create_product": {"sku": "MATRIX-1", "name": "Matrix", "category": world.category_code,
                               "list_price": "1.00"},
        "api.update_product": {"name": "Renamed by matrix"},
        "api.create_sale": {"product_id": world.product.id, "customer_name": "Matrix", "quantity": 1,
                            "sold_on": "2026-11-20", "agent_id": b},
        "api.reject_sale": {"reason": "matrix"}, "api.void_sale": {"reason": "matrix"},
        "api.estimate": {"product_id": world.product.id, "quantity": 1, "sold_on": "2026-11-20",
                         "agent_id": b},
        "api.start_run": {"start": "2026-11-01", "end": "2026-11-20", "agent_ids": [b]},
        "api.record_payout": {"agent_id": b, "amount": "1.00", "paid_on": "2026-11-20"},
        "api.reverse_payout": {"reason": "matrix"},
        "api.create_customer": {"name": "Matrix customer"},
        "api.create_adjustment": {"agent_id": b, "amount": "-1.00", "reason": "matrix"},
        # The id as it was (an admin's earlier request may have deleted the line by now).
        "api.open_dispute": {"entry_id": inspect(world.entry_b).identity[0], "comment": "matrix"},
        "api.add_message": {"body": "matrix"}, "api.accept_dispute": {"amount": "1.00", "note": "matrix"},
        "api.reject_dispute": {"reason": "matrix"}, "api.pay_closed_period": {"digest": "matrix"},
        "api.create_category": {"code": "matrix", "name": "Matrix"}, "api.update_category": {"name": "Matrix"},
        "api.set_product_agents": {"agent_ids": [b]},
        "api.create_version": {"effective_from": "2026-11-20", "base_rate": "4"},
        "api.create_assignment": {"agent_id": b, "plan_id": world.plan.id, "effective_from": "2026-11-20"},
        "api.end_plan_assignment": {"effective_to": "2026-11-30"},
        "api.set_target": {"agent_id": b, "month": "2026-11", "amount": "1000.00"},
        "api.create_spiff": {"name": "Matrix", "first_day": "2026-11-20", "last_day": "2026-11-30",
                             "per_unit": "1.00", "product_ids": [world.product.id]},
        "api.create_spiff_version": {"effective_from": "2026-11-25", "first_day": "2026-11-20",
                                     "last_day": "2026-11-30", "per_unit": "2.00", "product_ids": [world.product.id]},
        "api.end_spiff": {"last_day": "2026-11-21"},
        "api.update_sale": {"product_id": world.product.id, "customer_name": "Matrix", "quantity": 1,
                            "sold_on": "2026-11-20"},
        "api.create_webhook": {"url": "https://matrix.example.com/new", "event_types": ["sale.created"]},
        "api.update_webhook": {"description": "Matrix"},
        "api.create_plan": {"name": "Matrix plan", "effective_from": "2026-11-20", "base_rate": "3"},
        "api.update_version": {"base_rate": "4"},
        "api.acknowledge_document": {"typed_name": world.agent_b.name, "confirm": True},
        "api.ask_question": {"comment": "matrix"}, "api.answer_question": {"answer": "matrix"},
        "api.create_user": {"email": "matrix-new@example.com", "name": "Matrix", "role": "agent",
                            "password": "matrix password 7 long", "manager_id": world.manager_b.id},
        "api.update_user": {"name": "Renamed by matrix"}, "api.update_settings": {"company_name": "Matrix Inc"},
        # Team B's pending sale: manager A's request is answered with it refused (404), nothing decided.
        "api.decide_sales": {"action": "approve", "sale_ids": [world.pending_b.id]},
        "api.simulate_plan": {"base_rate": "3", "sales_csv": "date,amount,sku,category\n2026-11-03,10.00,,\n"},
        "api.import_sales": {"csv": "key,agent_email,sku,customer,quantity,unit_price,date,note\n", "dry_run": True},
        "api.import_targets": {"csv": f"email,month,amount\n{world.agent_b.email},2026-11,100.00\n"},
    }.get(endpoint)


QUERY = {"api.agent_commissions": "?start=2026-11-01&end=2026-11-20",
         "api.export_sales": "?start=2026-11-01&end=2026-11-20", "api.export_ledger": "?start=2026-11-01&end=2026-11-20",
         "api.list_targets": "?month=2026-11"}

# Operations whose BODY names team B's agent: refused (403/404/422, nothing written) for the agent
# and the manager of team A; admins may.
BODY_OWNED = {"api.create_sale", "api.estimate", "api.start_run", "api.record_payout", "api.create_adjustment",
              "api.open_dispute"}


# They end the session the other requests need, so they come last; each redirects to /login.
SIGNING_OUT = ("auth.sign_out_everywhere", "auth.logout")


def _rules(app):
    """Every rule; the signing-out ones last, since they end the session the others need."""
    return sorted(app.url_map.iter_rules(), key=lambda rule: (
        SIGNING_OUT.index(rule.endpoint) + 1 if rule.endpoint in SIGNING_OUT else 0))


def _methods(rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def test_every_route_is_classified(app):
    endpoints = {rule.endpoint for rule in _rules(app)}
    unclassified = endpoints - PUBLIC - set(ACCESS)
    assert not unclassified, (
        f"New route(s) {sorted(unclassified)}: classify each in tests/security/test_authorization_matrix.py "
        "(PUBLIC, or ACCESS with the roles allowed, plus OWNED if the URL names an agent's or team's "
        "object).")
    stale = (PUBLIC | set(ACCESS) | OWNED) - endpoints
    assert not stale, f"Classified endpoints that no longer exist: {sorted(stale)}"


def test_api_classification_matches_the_registry(app):
    from webapp.api.framework import REGISTRY

    for op in REGISTRY:
        assert ALLOWED[ACCESS[op.endpoint]] == set(op.roles), op.endpoint


def _expected(role: str, endpoint: str) -> str:
    """'login', '401', '403', '404' or 'ok' (allowed: anything but 401/403/login/5xx)."""
    access = ACCESS[endpoint]
    if role == "anonymous":
        return "401" if endpoint.startswith("api.") else "login"
    if role not in ALLOWED[access]:
        return "403"
    if endpoint in MISSING_FOR_ALL:
        return "404"
    if endpoint in OWNED and role != "admin":
        return "404"
    if endpoint in BODY_OWNED and role != "admin":
        return "refused"
    return "ok"


def _request(world: World, role: str, rule, method: str, url: str):
    client = world.browsers[role].client
    if rule.endpoint.startswith("api."):
        headers = dict(world.bearer[role])
        if method == "GET":
            return client.get(url + QUERY.get(rule.endpoint, ""), headers=headers)
        headers["Idempotency-Key"] = f"matrix-{role}-{rule.endpoint}".replace(".", "-")
        body = _json_body(world, rule.endpoint)
        if body is None:
            return client.open(url, method=method, headers=headers)
        return client.open(url, method=method, json=body, headers=headers)
    if method == "GET":
        return client.get(url)
    return client.open(url, method=method, data={**FORM, "csrf_token": world.csrf(role)})


def _check(world: World, role: str, rule, method: str, url: str, response) -> str | None:
    """A description of what is wrong with the response, or None."""
    status = response.status_code
    body = response.get_data(as_text=True)
    if status >= 500:
        return f"{status} (server error)"
    if (role != "anonymous" or rule.endpoint.startswith("api.")) \
            and response.headers.get("Cache-Control") != "no-store":
        # Signed in (or any API answer, errors too): no cache may keep someone's figures.
        return f"{status} with Cache-Control {response.headers.get('Cache-Control')!r}, expected no-store"
    if rule.endpoint in PUBLIC:
        if rule.endpoint == "mail_webhooks.mailchimp" and method == "POST" and status != 403:
            return f"{status}, expected 403 without a signature"
        return None
    expected = _expected(role, rule.endpoint)
    if expected == "login":
        location = urlsplit(response.headers.get("Location", ""))
        if status != 302 or location.path != "/login":
            return f"{status} {response.headers.get('Location')}, expected a redirect to /login"
    elif expected == "401":
        if status != 401 or not response.is_json:
            return f"{status}, expected a JSON 401"
    elif expected == "refused":
        if status not in (403, 404, 422):
            return f"{status}, expected 403/404/422 for team B's agent in the body"
    elif expected in ("403", "404"):
        if str(status) != expected:
            return f"{status}, expected {expected}"
    elif rule.endpoint not in SIGNING_OUT:  # signing out redirects to /login, as it should
        to_login = status == 302 and urlsplit(response.headers["Location"]).path == "/login"
        if status in (401, 403) or to_login:
            return f"{status}, expected to be allowed"
    if expected != "ok" and world.agent_b.name in body:
        return "refused, but the body shows team B's data"
    return None


@pytest.mark.parametrize("role", ROLES)
def test_authorization_matrix(app, factory, today, outbox, role):
    world = World(app, factory, today)
    values = world.ids()
    failures = []
    checked = 0
    for rule in _rules(app):
        if rule.endpoint == "static":
            continue
        with app.test_request_context():
            url = app.url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})
        for method in _methods(rule):
            mutating = method in MUTATING
            before = row_counts() if mutating else None
            response = _request(world, role, rule, method, url)
            checked += 1
            problem = _check(world, role, rule, method, url, response)
            if problem is None and mutating and rule.endpoint not in PUBLIC \
                    and _expected(role, rule.endpoint) != "ok":
                after = row_counts()
                if after != before:
                    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
                    problem = f"refused ({response.status_code}) but wrote {changed}"
            if problem:
                failures.append(f"{role} {method} {url} [{rule.endpoint}]: {problem}")
    assert checked > 100
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_ids_beyond_the_database_are_404_not_500(app, factory, today, role):
    """Werkzeug's int converter takes any digits; the database does not (OverflowError, or
    PostgreSQL's "integer out of range")."""
    world = World(app, factory, today)
    client, token = world.browsers[role].client, world.csrf(role)
    failures = []
    for huge in (2**31, 10**20):
        values = {name: (huge if isinstance(value, int) else value) for name, value in world.ids().items()}
        for rule in _rules(app):
            if rule.endpoint in ("static", *SIGNING_OUT) or not any(
                    isinstance(values[name], int) for name in rule.arguments):
                continue
            with app.test_request_context():
                url = app.url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})
            for method in _methods(rule):
                if rule.endpoint.startswith("api."):
                    response = client.open(url, method=method, headers=world.bearer[role])
                elif method == "GET":
                    response = client.get(url)
                else:
                    response = client.open(url, method=method, data={**FORM, "csrf_token": token})
                if response.status_code not in (403, 404):  # 403: the role is refused first (API)
                    failures.append(f"{method} {url}: {response.status_code}")
    # Filters and forms that name ids in the query string or body.
    staff = world.browsers["admin"].client
    for url in ("/admin/audit?actor=99999999999999999999", "/manage/review?agent_id=99999999999999999999",
                "/manage/review?product_id=99999999999999999999", "/statements?agent_id=99999999999999999999",
                "/statements?period_id=99999999999999999999",
                "/admin/audit?object_id=99999999999999999", "/admin/audit?object_id=%C2%B2",
                "/admin/audit?actor=%C2%B2"):
        if (response := staff.get(url)).status_code >= 500:
            failures.append(f"GET {url}: {response.status_code}")
    agent = world.browsers["agent"].client
    if (response := agent.get("/sales?product_id=99999999999999999999")).status_code >= 500:
        failures.append(f"GET /sales?product_id=...: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_a_co_agent_reads_a_split_sale_and_nothing_more(app, factory, today, outbox):
    """Team B's agent splits a pending sale with team A's agent (COMMISSION_RULES.md 8): the co-agent
    and their manager read it (page and API) but may not edit, cancel or decide it; another agent
    of team A still gets 404, and nothing refused writes anything."""
    from decimal import Decimal

    from tests.conftest import browser_as
    from tests.security._world import TODAY
    from webapp.auth.tokens import create_token
    from webapp.sales import services as sales

    world = World(app, factory, today)
    sale, _ = sales.create_sale(world.agent_b, sales.SaleInput(
        product_id=world.product.id, quantity=1, unit_price=Decimal("300.00"), sold_on=TODAY,
        customer_id=world.customer.id, co_agents=(sales.CoAgentInput(world.agent_a.id, "25"),)),
        idempotency_key="matrix-split-0001")
    stranger = factory.user("agent", manager=world.manager_a)
    browsers = {"co_agent": world.browsers["agent"], "co_manager": world.browsers["manager"],
                "stranger": browser_as(app, stranger)}
    bearer = {"co_agent": world.bearer["agent"], "co_manager": world.bearer["manager"],
              "stranger": {"Authorization": f"Bearer {create_token(stranger, name='m', scope='write')[1]}"}}
    with app.test_request_context():
        urls = {name: app.url_for(endpoint, sale_id=sale.id) for name, endpoint in (
            ("detail", "sales.detail"), ("edit", "sales.edit"), ("cancel", "sales.cancel"),
            ("approve", "review.approve"), ("api", "api.get_sale"), ("api_approve", "api.approve_sale"))}
    before = row_counts()

    def status(who: str, what: str, method: str = "GET") -> int:
        """The status `who` gets for `what`."""
        client = browsers[who].client
        if what.startswith("api"):
            return client.open(urls[what], method=method, headers=bearer[who]).status_code
        if method == "GET":
            return client.get(urls[what]).status_code
        return client.post(urls[what], data={**FORM, "csrf_token": browsers[who].token("/login")}).status_code

    assert status("co_agent", "detail") == 200 and status("co_agent", "api") == 200
    assert status("co_agent", "edit") == 403 and status("co_agent", "cancel", "POST") == 403
    assert status("co_manager", "detail") == 200 and status("co_manager", "api") == 200
    assert status("co_manager", "approve", "POST") == 404 and status("co_manager", "api_approve", "POST") == 404
    assert [status("stranger", what) for what in ("detail", "edit", "api")] == [404, 404, 404]
    assert status("stranger", "cancel", "POST") == 404
    assert row_counts() == before
    listed = world.browsers["agent"].client.get("/api/v1/sales", headers=bearer["co_agent"]).get_json()
    assert sale.id in [item["id"] for item in listed["items"]]
    assert sale.id not in [item["id"] for item in browsers["stranger"].client.get(
        "/api/v1/sales", headers=bearer["stranger"]).get_json()["items"]]
