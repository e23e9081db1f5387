"""schemathesis against the live OpenAPI document: generated requests to every operation, as an
admin, a manager and their agent, never answer 5xx and never answer outside the documented schema;
data the document forbids is refused, data it allows is taken (but for the rules it states in
words, STATED_IN_WORDS), and an operation that answers 2xx with the token refuses the same
request without it.

A bounded number of examples per operation keeps the file well inside a minute; the
per-test rollback of tests/conftest.py undoes everything the generated requests write.
"""

from __future__ import annotations

import contextvars
import hashlib
import re
from datetime import date
from decimal import Decimal

import pytest
import schemathesis
from sqlalchemy import select
from flask.globals import _cv_app
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.generation.stateful import run_state_machine_as_test
from schemathesis.checks import not_a_server_error
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import (content_type_conformance, ignored_auth, negative_data_rejection,
                                               positive_data_acceptance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from webapp import blueprints as _blueprints  # noqa: F401  (registers every operation)
from webapp.api.framework import REGISTRY
from webapp.auth.tokens import create_token
from webapp.commissions.models import CommissionEntry
from webapp.commissions.payouts import record_payout
from webapp.commissions.periods import period_for
from webapp.commissions.plans import assignments_of
from webapp.disputes.services import open_dispute
from webapp.extensions import db
from webapp.operations import services as operations
from webapp.spiffs.models import SpiffRecompute
from webapp.spiffs.services import SpiffRules, create_spiff
from webapp.plandocs.services import issue_missing
from webapp.statements.services import start_adhoc_run
from webapp.webhooks import services as webhooks
from webapp.webhooks.models import WebhookDelivery
from webapp.webhooks.services import create_endpoint
# Refusals (422) of schema-valid requests for rules the document states in words because JSON
# Schema cannot: a value against another value, against today, against what exists or what the
# caller may see. Each is (the field, what its message says); anything else a schema-valid request
# is refused for fails the test, as a gap in the document.
STATED_IN_WORDS = [
    # A cursor is a next_cursor the API gave, for the same sort: opaque, so no pattern says which.
    (r"cursor", r"^Not valid\.$"),
    # One day against another: a range's end on or after its start, at most 366 days; a SPIFF's end
    # after its versions' starts and before its current end.
    (r"end|last_day|effective_to", r"before the first day|Before start|on or after the start|at most 366 days|"
                                   r"starts on .* after that day|already ends on"),
    # Against today: a sale or a payment is not dated in the future, nor a range started there.
    (r"sold_on|paid_on", r"cannot be in the future"), (r"start", r"starts in the future"),
    # Against what exists and what the caller may see or sell.
    (r"agent_id|agent_ids|co_agents\.\d+\.agent_id",
     r"Choose an (active )?agent|Choose at least one agent|Choose agents (of your team|only)|choose an active agent"),
    (r"product_id|product_ids|category_ids|team_ids", r"Choose a product you can sell|one of them does not exist"),
    (r"product_rates|category_rates", r"names an unknown (product|category)"),
    (r"customer_id", r"Choose an existing customer", "customer_id"),  # an unknown id (none given: the oneOf)
    (r"plan_id", r"^Choose a plan\.$"), (r"version_id", r"^No plan version has this id\.$"),
    (r"category", r"^No category has this code\.$|archived; choose an active one"),
    (r"matching", r"^No sale matches the filters\.$", "matching"), (r"sale_id", r"not one of this agent's"),
    # Unique among the company's: a code, a SKU, a plan's name, an email, a version's first day.
    (r"code|name|sku", r"exists already"), (r"effective_from", r"already starts on that date"),
    (r"email", r"^A user with this email already exists\.$"),
    # A password hard to guess (zxcvbn's estimate, and not built from the account's own details).
    (r"password", r"^Too easy to guess|^Do not put your email address"),
    # A team's shape: an agent's manager is an active manager, not themselves; a manager with
    # active agents keeps the role; nobody changes their own role or deactivates themselves.
    (r"manager_id", r"^Choose an active manager\.$|cannot manage themselves|^Choose the agent's manager\.$"),
    (r"role", r"Move this manager's agents|cannot change your own role"),
    # Against the figures: an amount past the largest a sale may have, a payout past the unpaid
    # balance (unless an advance).
    (r"quantity", r"^This sale is too large\.$"), (r"amount", r"more than the unpaid balance"),
    # A tier table's brackets: the first from 0, each later one higher, amounts in cents (a rate's
    # own range and decimals are in its pattern, so they are not excused here).
    (r"tiers", r"first bracket must start at 0|both start at|ascending order|has more than two decimals|"
               r"starts at most at"),
    # A split's shares: all of them make exactly 100.
    (r"share", r"add up to"),
    # The caller's role: agents act for themselves (their own sales, estimates and statements).
    (r"agent_ids", r"Agents request their own statement"), (r"agent_id", r"Agents record their own sales"),
    # An import's CSV: its header and size (the file), and each row's cells against what exists.
    (r"csv", r"."), (r"lines\.\d+(\.\w+)?", r"."),
    # The simulator's CSV: its header and each line's values (the page's own grammar).
    (r"sales_csv", r"^Line \d+|^Paste the sales|header but no sales|simulate at most"),
    # What only the account knows: the agent's own name, typed to acknowledge.
    (r"typed_name", r"as on your account"),
    # An address a mail or HTTP client can use (email-validator's and urllib3's reading).
    (r"email", r"valid email address"), (r"url", r"full http:// or https:// URL"),
]


@schemathesis.check
def documented_acceptance(ctx, response, case):
    """positive_data_acceptance, but for the refusals the document states in words (above), and a
    412 answering an If-Match the generator made up (no schema can name the current ETag)."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if response.status_code == 412 and "If-Match" in (case.headers or {}):
            return None
        fields = response.json().get("error", {}).get("fields", {}) if response.status_code == 422 else {}
        if fields and all(any(_excused(rule, field, message, case) for rule in STATED_IN_WORDS)
                              for field, message in fields.items()):
            return None
        raise


def _excused(rule: tuple, field: str, message: str, case) -> bool:
    """The refusal of `field` is the rule's: its field, its words, and (when the rule names a body
    field) that field was sent with a value."""
    name, said, *sent = rule
    body = case.body if isinstance(case.body, dict) else {}
    return bool(re.fullmatch(name, field) and re.search(said, message)
                and all(body.get(key) is not None for key in sent))


# Every check of a single request.
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance,
          response_headers_conformance, negative_data_rejection, ignored_auth, documented_acceptance]
EXAMPLES = 15


def _isolated(app):
    """The app as a WSGI callable whose requests each get their own app context.

    As tests.conftest.IsolatedClient: the test's pushed context must not be shared by requests."""

    def wsgi(environ, start_response):
        """Serve one request outside the test's app context."""

        def run():
            """Forget the pushed app context (in this copy of the context only)."""
            _cv_app.set(None)
            return app(environ, start_response)

        return contextvars.copy_context().run(run)

    return wsgi


@pytest.fixture
def world(build, factory):
    """Users, a plan, a product, sales, a rendered statement and plan document; tokens and the ids
    that exist.

    An admin, a manager with an agent on a plan, an approved and a pending sale, a statement with
    its PDF, a payout, a dispute of the approved sale's line, a write token each for the admin and the agent; the "existing" runs put the ids in
    the generated requests to get past the 404s."""
    build.on(date(2026, 11, 20))
    admin = factory.user("admin")
    manager, (agent,) = build.team(None, None)
    product = factory.product(name="Monitor")
    approved = factory.sale(agent, "1000.00", date(2026, 11, 3), product=product)
    pending = factory.sale(agent, "250.00", date(2026, 11, 4), product=product, approve=False)
    run = start_adhoc_run(agent, agent_ids=[agent.id], start=date(2026, 11, 1), end=date(2026, 11, 20))
    statement = run.statements[0]
    # Stored bytes stand in for a rendered PDF (WeasyPrint runs in the worker, not here).
    statement.pdf = b"%PDF-1.4 test statement"
    statement.pdf_sha256, statement.status = hashlib.sha256(statement.pdf).hexdigest(), "rendered"
    # The agent's plan document, with stored bytes standing in for its rendered PDF.
    document = next(d for d in issue_missing() if d.agent_id == agent.id)
    document.pdf = b"%PDF-1.4 test plan document"
    document.pdf_sha256, document.status = hashlib.sha256(document.pdf).hexdigest(), "rendered"
    payout = record_payout(admin, agent_id=agent.id, amount_cents=500, paid_on=date(2026, 11, 20), advance=True)
    line = db.session.scalar(select(CommissionEntry.id).where(CommissionEntry.sale_id == approved.id))
    dispute = open_dispute(agent, line, "Rate?")
    background = operations.start(admin, "plan_recompute", [[agent.id, "2026-11-01", None]], plan_id=build.plan.id,
                                  since="2026-11-01")
    spiff = create_spiff(admin, "Fuzz push", SpiffRules(first_day=date(2026, 11, 1), last_day=date(2026, 11, 30),
                                                        per_unit=Decimal("1.00"), product_ids=[product.id])).spiff
    # A SPIFF change's background recompute (a stopped one, so retrying it does something).
    rerun = SpiffRecompute(spiff_id=spiff.id, pairs=[], total=0, status="failed", error="stopped")
    db.session.add(rerun)
    webhook = create_endpoint(admin, url="https://fuzz.example.com/hooks", event_types=["sale.created"])
    webhooks.collect()  # the sales above: events and a delivery to the endpoint
    delivery = db.session.scalar(select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == webhook.id))
    db.session.flush()
    return {
        "headers": {role: {"Authorization": f"Bearer {create_token(user, name='fuzz')[1]}"}
                    for role, user in (("admin", admin), ("manager", manager), ("agent", agent))},
        "ids": {"agent_id": agent.id, "product_id": product.id, "statement_id": statement.id,
                "run_id": run.id, "sale_ids": (approved.id, pending.id), "customer_id": pending.customer_id,
                "category": product.category.code, "document_id": document.id,
                "payout_id": payout.id, "period_id": period_for(date(2026, 11, 3)).id,
                "dispute_id": dispute.id, "category_id": product.category_id, "plan_id": build.plan.id,
                "assignment_id": agent_assignment(agent.id), "spiff_id": spiff.id,
                "operation_id": background.id, "webhook_id": webhook.id, "delivery_id": delivery,
                "version_id": build.plan.versions[0].id, "recompute_id": rerun.id, "user_id": agent.id},
    }


def agent_assignment(agent_id: int) -> int:
    """The id of the agent's (first) plan assignment."""
    return assignments_of(agent_id)[0].id


def _with_existing_ids(case, ids: dict, pick: int) -> None:
    """Point the case at objects that exist, so it gets past the 404s to the services.

    Path ids, body ids (the agent always named, a customer by id only), a known category, and
    every other time a valid date range. The sale alternates between the approved and the pending
    one, so approve, reject and void each meet both."""
    known = {**ids, "sale_id": ids["sale_ids"][pick % 2]}
    for name in list(case.path_parameters or {}):
        case.path_parameters[name] = known[name]
    if isinstance(case.body, dict):
        takes = _body_fields(case.operation.method.upper(), case.operation.path)
        for name in ("product_id", "agent_id"):
            if name in case.body or (name == "agent_id" and "product_id" in case.body and name in takes):
                case.body[name] = known[name]
        if "customer_id" in case.body or "customer_name" in case.body:
            case.body.pop("customer_name", None)
            case.body["customer_id"] = known["customer_id"]
        if "agent_ids" in case.body or {"start", "end"} <= set(case.body):
            case.body["agent_ids"] = [known["agent_id"]]
        if "category" in case.body:
            case.body["category"] = known["category"]
        if {"start", "end"} <= set(case.body) and pick % 2:
            case.body.update(start="2026-11-01", end="2026-11-20")
    if isinstance(case.query, dict):
        if "agent_id" in case.query:
            case.query["agent_id"] = known["agent_id"]
        if {"start", "end"} <= set(case.query) and pick % 2:
            case.query.update(start="2026-11-01", end="2026-11-20")


def _body_fields(method: str, path: str) -> set[str]:
    """The fields the operation's body takes."""
    [found] = [op for op in REGISTRY if (op.method.upper(), op.path) == (method, path)]
    return set(found.body.model_fields)


@pytest.fixture(scope="module")
def live_document(app):
    """The OpenAPI document as the app serves it, loaded once (it does not change between tests)."""
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _isolated(app))


# One test per operation and role, named after them. schemathesis's own pytest integration is
# not used: its fixture-based loader (the app here is a fixture) reads pytest's private
# Node._nodeid, which pytest 9.2 no longer has; the public strategy API below does not.
OPERATIONS = sorted((op.method.upper(), op.path) for op in REGISTRY)


@pytest.mark.parametrize("mode", ["valid", "existing", "invalid"])
@pytest.mark.parametrize("role", ["admin", "manager", "agent"])
@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_generated_requests_get_no_5xx_and_documented_responses(live_document, world, method, path, role,
                                                                mode):
    """valid: data the document allows; existing: the same with ids of real objects; invalid:
    data the document forbids (expected: a documented 4xx)."""
    operation = live_document[path][method]
    generation = GenerationMode.NEGATIVE if mode == "invalid" else GenerationMode.POSITIVE
    calls = iter(range(1_000_000))

    @given(case=operation.as_strategy(generation_mode=generation))
    # derandomize: the same examples on every run, so a run's verdict is the code's, not the draw's
    # (a finding shows up on the change that brings it, not later on an unrelated one).
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def generated(case):
        """Send one generated request and check its response against the document."""
        if mode == "existing":
            _with_existing_ids(case, world["ids"], next(calls))
        case.call_and_validate(headers=world["headers"][role], checks=CHECKS)

    generated()


STATEFUL_SCENARIOS = 60


@pytest.mark.parametrize("role", ["admin", "manager", "agent"])
def test_linked_operations_chain_within_the_document(live_document, world, role):
    """Stateful: the document's links lead from what a POST made (a sale, a payout, a dispute, a
    plan...) to the operations on it, with its id; chains of them pass every check above."""
    headers = world["headers"][role]
    links = live_document.raw_schema["paths"]["/sales"]["post"]["responses"]["201"]["links"]
    assert links["approve_sale"]["parameters"] == {"sale_id": "$response.body#/id"}

    class Machine(live_document.as_state_machine()):
        """Each step as the role, checked as the single requests are; each scenario starts from the
        world as built (a savepoint undone after it), so a replayed scenario meets the same rows."""

        def setup(self):
            """Remember the rows as they are."""
            self.savepoint = db.session.connection().begin_nested()

        def teardown(self):
            """Undo what the scenario wrote."""
            self.savepoint.rollback()
            db.session.expire_all()

        def get_call_kwargs(self, case):
            """The role's token on every call."""
            return {"headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            """Every check of the single requests."""
            case.validate_response(response, checks=CHECKS, headers=headers, transport_kwargs=kwargs)

    # No shrinking: a scenario's answers carry ids and times a replay would not meet again (PostgreSQL
    # sequences do not roll back), so the first failure is reported as it happened.
    run_state_machine_as_test(Machine, settings=settings(
        max_examples=STATEFUL_SCENARIOS, stateful_step_count=6, deadline=None, database=None, derandomize=True,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck)))
