"""Every bad input of the commission core gets a clear ServiceError (or MoneyError) and writes nothing.

"Nothing" is checked, not assumed: the row counts of sales, customers, ledger entries, payouts,
plans, plan versions, tiers, overrides, assignments and audit events, and the ledger and payout
sums, are the same before and after every refused call.
"""

from __future__ import annotations

import datetime
import uuid
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from webapp import clock
from webapp.audit.models import AuditEvent
from webapp.catalog.models import Customer
from webapp.commissions import ledger
from webapp.commissions.models import (CommissionEntry, CommissionPlan, Payout, Period, PlanAssignment, PlanOverride,
                                       PlanTier, PlanVersion)
from webapp.commissions.payouts import record_payout
from webapp.commissions.assignments import assign_plan, end_assignment
from webapp.commissions.plan_versions import add_version
from webapp.commissions.plans import PlanRules, create_plan, validate_rules
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.money import MoneyError, parse_money, parse_rate
from webapp.sales.models import Sale
from webapp.sales.services import SaleInput, approve_sale, create_sale, reject_sale, void_sale

TODAY = date(2026, 11, 20)
CLOSED_DAY = date(2026, 11, 10)  # Nov 1-15 is closed in these tests
OPEN_DAY = date(2026, 11, 18)

COUNTED = (Sale, Customer, CommissionEntry, Payout, CommissionPlan, PlanVersion, PlanTier, PlanOverride, Period,
           PlanAssignment, AuditEvent)


def state() -> dict:
    """Row counts of every table a refused call could touch, and the ledger and payout sums."""
    db.session.flush()
    figures = {model.__tablename__: db.session.scalar(select(func.count()).select_from(model)) for model in COUNTED}
    figures["ledger_cents"] = db.session.scalar(select(func.coalesce(func.sum(CommissionEntry.amount_cents), 0)))
    figures["payout_cents"] = db.session.scalar(select(func.coalesce(func.sum(Payout.amount_cents), 0)))
    figures["statuses"] = sorted(db.session.execute(select(Sale.id, Sale.status)).all())
    return figures


def refused(call, *, field: str | None = None, status: int | None = None, says: str) -> ServiceError:
    """Run `call`, expect a ServiceError with this field/status whose message contains `says`; nothing written."""
    before = state()
    with pytest.raises(ServiceError) as info:
        call()
    error = info.value
    assert says in error.message, error.message
    if field is not None:
        assert error.field == field, (error.field, error.message)
    if status is not None:
        assert error.status == status, (error.status, error.message)
    assert state() == before, "a refused call wrote something"
    return error


@pytest.fixture
def world(build, factory):
    """Today is 2026-11-20; Nov 1-15 is closed; an agent on a flat 3% plan has 30.00 stated."""
    build.on(date(2026, 11, 5))
    admin = factory.user("admin")
    plan = factory.plan(base_rate="3", name="Flat three")  # its name is in the overlap messages
    manager, (agent,) = build.team(None, None, plan=plan)
    other_manager, (other_agent,) = build.team(None, None, plan=None)
    product = factory.product()
    archived, restricted = factory.product(active=False), factory.product(restricted=True)
    customer = factory.customer()
    stated = factory.sale(agent, "1000.00", date(2026, 11, 5), product=product)
    build.on(TODAY)
    build.close(CLOSED_DAY, by=admin)
    return SimpleNamespace(admin=admin, manager=manager, agent=agent, other_manager=other_manager,
                           other_agent=other_agent, plan=plan, product=product, archived=archived,
                           restricted=restricted, customer=customer, stated=stated)


def sale_input(world, **fields) -> SaleInput:
    """A valid sale of the open period, with some fields replaced."""
    values = {"product_id": world.product.id, "quantity": 2, "unit_price": Decimal("12.50"),
              "sold_on": OPEN_DAY, "customer_id": world.customer.id}
    values.update(fields)
    return SaleInput(**values)


def key() -> str:
    """A fresh idempotency key."""
    return uuid.uuid4().hex


# ---- Rates and money as typed --------------------------------------------------------------------


@pytest.mark.parametrize("text, says", [
    ("-1", "not negative"),
    ("101", "at most 100%"),
    ("3.12345", "at most four decimals"),
    ("abc", "plain number"),
    ("NaN", "plain number"),
    ("Infinity", "plain number"),
    ("1e3", "plain number"),
    ("", "Enter a rate"),
])
def test_parse_rate_refuses(text, says):
    """Bad rate text is a MoneyError with a message for the user."""
    with pytest.raises(MoneyError) as info:
        parse_rate(text)
    assert says in str(info.value)


def test_parse_rate_accepts_the_edges():
    """0, 100 and four decimals are fine (the refusals above are not blanket ones)."""
    assert (parse_rate("0"), parse_rate("100"), parse_rate("3.1234")) == (0, 100, Decimal("3.1234"))


@pytest.mark.parametrize("text, says", [
    ("12.345", "at most two decimals"),
    ("0", "greater than zero"),
    ("0.00", "greater than zero"),
    ("-5", "not negative"),
    ("1e3", "plain number"),
    ("NaN", "plain number"),
    ("1,000.00", "plain number"),
    ("100000000000", "too large"),
])
def test_parse_money_refuses(text, says):
    """Bad price text is a MoneyError: three decimals, zero, negatives, exponents, separators."""
    with pytest.raises(MoneyError) as info:
        parse_money(text)
    assert says in str(info.value)


# ---- Plans -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rules, field, says", [
    (PlanRules(base_rate=Decimal("-1")), "base_rate", "between 0 and 100"),
    (PlanRules(base_rate=Decimal("101")), "base_rate", "between 0 and 100"),
    (PlanRules(base_rate=Decimal("3.12345")), "base_rate", "more than four decimals"),
    (PlanRules(base_rate=Decimal("NaN")), "base_rate", "finite number"),
    (PlanRules(base_rate=Decimal("Infinity")), "base_rate", "finite number"),
    (PlanRules(), "base_rate", "needs a base rate or a tier table"),
    (PlanRules(base_rate=Decimal("3"), tiers=[(Decimal("0"), Decimal("3"))], tier_mode="marginal"),
     "base_rate", "either a base rate or a tier table, not both"),
    (PlanRules(tiers=[(Decimal("0"), Decimal("3")), (Decimal("5000"), Decimal("5")),
                      (Decimal("2000"), Decimal("4"))], tier_mode="marginal"),
     "tiers", "ascending order: bracket 3 starts at 2000.00, below bracket 2 at 5000.00"),
    (PlanRules(tiers=[(Decimal("100"), Decimal("3")), (Decimal("5000"), Decimal("5"))], tier_mode="marginal"),
     "tiers", "first bracket must start at 0"),
    (PlanRules(tiers=[(Decimal("0"), Decimal("3")), (Decimal("5000"), Decimal("5")),
                      (Decimal("5000"), Decimal("6"))], tier_mode="retroactive"),
     "tiers", "Brackets 2 and 3 both start at 5000.00"),
    (PlanRules(tiers=[(Decimal("0"), Decimal("3")), (Decimal("5000"), Decimal("101"))], tier_mode="marginal"),
     "tiers", "Bracket 2: bracket rate must be between 0 and 100"),
    (PlanRules(tiers=[(Decimal("0"), Decimal("3")), (Decimal("50.005"), Decimal("4"))], tier_mode="marginal"),
     "tiers", "more than two decimals"),
    (PlanRules(tiers=[(Decimal("0"), Decimal("3"))], tier_mode=None), "tier_mode", "marginal or retroactive"),
    (PlanRules(tiers=[(Decimal("0"), Decimal("3"))], tier_mode="progressive"), "tier_mode",
     "marginal or retroactive"),
], ids=["negative", "over-100", "five-decimals", "nan", "infinity", "empty", "base-and-tiers", "out-of-order",
        "not-from-0", "duplicate", "tier-rate-101", "tier-from-3-decimals", "no-mode", "unknown-mode"])
def test_bad_plan_rules_are_refused_and_nothing_is_written(world, rules, field, says):
    """validate_rules, create_plan and add_version all refuse the rules, naming the field."""
    with pytest.raises(ServiceError) as info:
        validate_rules(rules)
    assert says in info.value.message and info.value.field == field, (info.value.field, info.value.message)
    refused(lambda: create_plan(world.admin, name="Bad plan", description=None, rules=rules,
                                effective_from=OPEN_DAY), field=field, says=says)
    refused(lambda: add_version(world.admin, world.plan, rules, OPEN_DAY), field=field, says=says)


def test_bad_override_rates_and_targets_are_refused(world):
    """Override rates follow the same rules, and must name a real category or product."""
    category_id = world.product.category_id
    refused(lambda: create_plan(world.admin, name="Bad override", description=None, effective_from=OPEN_DAY,
                                rules=PlanRules(base_rate=Decimal("3"), category_rates={category_id: Decimal("150")})),
            field="base_rate", says="between 0 and 100")
    refused(lambda: create_plan(world.admin, name="Bad override", description=None, effective_from=OPEN_DAY,
                                rules=PlanRules(base_rate=Decimal("3"), product_rates={999_999: Decimal("5")})),
            field="product_rates", says="unknown product")
    refused(lambda: create_plan(world.admin, name="Bad override", description=None, effective_from=OPEN_DAY,
                                rules=PlanRules(base_rate=Decimal("3"), category_rates={999_999: Decimal("5")})),
            field="category_rates", says="unknown category")


def test_plan_changes_may_not_reach_into_a_closed_period(world):
    """A new version dated in a closed period would rewrite issued statements."""
    refused(lambda: add_version(world.admin, world.plan, PlanRules(base_rate=Decimal("4")), CLOSED_DAY),
            field="effective_from", says="closed period")


def test_plan_dates_must_be_plain_dates(world, factory):
    """A datetime where a plan date belongs is a field error, not a TypeError (a 500)."""
    moment = datetime.datetime(2026, 11, 18, 9, 30)
    refused(lambda: add_version(world.admin, world.plan, PlanRules(base_rate=Decimal("4")), moment),
            field="effective_from", says="Enter the date the plan takes effect")
    newcomer = factory.user("agent")
    refused(lambda: assign_plan(world.admin, agent_id=newcomer.id, plan_id=world.plan.id, effective_from=moment),
            field="effective_from", says="Enter the date the plan takes effect")
    refused(lambda: assign_plan(world.admin, agent_id=newcomer.id, plan_id=world.plan.id,
                                effective_from=OPEN_DAY, effective_to=moment), field="effective_to",
            says="Enter the end date")
    assignment = assign_plan(world.admin, agent_id=newcomer.id, plan_id=world.plan.id, effective_from=OPEN_DAY)
    refused(lambda: end_assignment(world.admin, assignment, datetime.datetime(2026, 12, 31, 12, 0)),
            field="effective_to", says="on or after the start date")


def test_overlapping_assignments_are_refused_naming_the_clash(world, factory):
    """An agent is on one plan at a time; the message names the plan and dates in the way."""
    other = factory.plan(base_rate="5", name="Flat five")
    error = refused(lambda: assign_plan(world.admin, agent_id=world.agent.id, plan_id=other.id,
                                        effective_from=date(2026, 12, 1)),
                    field="effective_from", says="is already on Flat three from 2000-01-01 (open-ended)")
    assert world.agent.name in error.message
    bounded = factory.user("agent")
    assign_plan(world.admin, agent_id=bounded.id, plan_id=world.plan.id, effective_from=date(2026, 12, 1),
                effective_to=date(2026, 12, 20))
    refused(lambda: assign_plan(world.admin, agent_id=bounded.id, plan_id=other.id,
                                effective_from=date(2026, 11, 25), effective_to=date(2026, 12, 1)),
            field="effective_from", says="Flat three from 2026-12-01 (2026-12-20)")
    # Touching but not overlapping is fine: the day after the end.
    assign_plan(world.admin, agent_id=bounded.id, plan_id=other.id, effective_from=date(2026, 12, 21))


# ---- Sales ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", [0, -1, 1.5, Decimal("2"), "3", True, None, 1_000_001, 10**12])
def test_bad_quantities_are_refused(world, quantity):
    """Quantity is a whole number (an int, not 1.5 or "3" or True) from 1 to 1,000,000."""
    refused(lambda: create_sale(world.agent, sale_input(world, quantity=quantity), idempotency_key=key()),
            field="quantity", says="whole number from 1 to 1,000,000")


def test_the_largest_quantity_is_accepted(world):
    """The bound itself is allowed."""
    sale, created = create_sale(world.agent, sale_input(world, quantity=1_000_000, unit_price=Decimal("0.01")),
                                idempotency_key=key())
    assert created and sale.amount_cents == 1_000_000


@pytest.mark.parametrize("price, says", [
    (Decimal("12.345"), "at most two decimals"),
    (Decimal("0"), "at least 0.01"),
    (Decimal("0.00"), "at least 0.01"),
    (Decimal("-3.00"), "at least 0.01"),
    (Decimal("NaN"), "at most two decimals"),
    (None, "at most two decimals"),
])
def test_bad_prices_are_refused(world, price, says):
    """The service refuses what parse_money would have: three decimals, zero, negatives."""
    refused(lambda: create_sale(world.agent, sale_input(world, unit_price=price), idempotency_key=key()),
            field="unit_price", says=says)


def test_a_sale_too_large_in_total_is_refused(world):
    """Quantity x price beyond the money range is refused, not stored."""
    refused(lambda: create_sale(world.agent, sale_input(world, quantity=1_000_000, unit_price=Decimal("99999999")),
                                idempotency_key=key()), field="quantity", says="too large")


@pytest.mark.parametrize("sold_on, says", [
    (CLOSED_DAY, "closed period"),
    (date(2026, 11, 21), "cannot be in the future"),
    (datetime.datetime(2026, 11, 18, 9, 30), "Enter the sale date"),
    ("2026-11-18", "Enter the sale date"),
    (None, "Enter the sale date"),
])
def test_bad_sale_dates_are_refused(world, sold_on, says):
    """A sale date is a plain date, not after today, not in a closed period."""
    refused(lambda: create_sale(world.agent, sale_input(world, sold_on=sold_on), idempotency_key=key()),
            field="sold_on", says=says)


def test_today_is_the_installations_date(app, world, monkeypatch):
    """At one UTC instant it is already Dec 11 in Kiritimati (UTC+14) but still Dec 10 in Pago Pago (UTC-11)."""
    monkeypatch.undo()  # the `today` fixture froze clock.today; this test runs the real one
    instant = "2026-12-10 12:00:00"
    with freeze_time(instant):
        monkeypatch.setitem(app.config, "TIMEZONE", "Pacific/Kiritimati")
        assert clock.today() == date(2026, 12, 11)
        sale, created = create_sale(world.agent, sale_input(world, sold_on=date(2026, 12, 11)), idempotency_key=key())
        assert created and sale.sold_on == date(2026, 12, 11)
        monkeypatch.setitem(app.config, "TIMEZONE", "Pacific/Pago_Pago")
        assert clock.today() == date(2026, 12, 10)
        refused(lambda: create_sale(world.agent, sale_input(world, sold_on=date(2026, 12, 11)),
                                    idempotency_key=key()), field="sold_on", says="cannot be in the future")
        monkeypatch.setitem(app.config, "TIMEZONE", "UTC")
        assert clock.today() == date(2026, 12, 10)


def test_products_and_customers_must_be_real_and_sellable(world):
    """Archived, restricted-not-assigned and unknown products; unknown customers; no customer at all."""
    for product_id in (world.archived.id, world.restricted.id, 999_999, None, "1", True):
        refused(lambda: create_sale(world.agent, sale_input(world, product_id=product_id), idempotency_key=key()),
                field="product_id", says="Choose a product you can sell")
    refused(lambda: create_sale(world.agent, sale_input(world, customer_id=999_999), idempotency_key=key()),
            field="customer_id", says="existing customer")
    refused(lambda: create_sale(world.agent, sale_input(world, customer_id=None, new_customer_name="  "),
                                idempotency_key=key()), field="customer_id", says="existing customer")


def test_a_restricted_product_is_sellable_once_assigned(world):
    """The positive control of the test above: assignment lets the agent sell it."""
    from webapp.catalog.services import set_product_agents

    set_product_agents(world.admin, world.restricted, {world.agent.id})
    _, created = create_sale(world.agent, sale_input(world, product_id=world.restricted.id), idempotency_key=key())
    assert created


def test_who_may_record_a_sale_for_whom(world):
    """Agents record only their own; managers only for their own team."""
    refused(lambda: create_sale(world.agent, sale_input(world), idempotency_key=key(), agent_id=world.other_agent.id),
            field="agent_id", says="Agents record their own sales")
    refused(lambda: create_sale(world.manager, sale_input(world), idempotency_key=key(),
                                agent_id=world.other_agent.id), field="agent_id", says="active agent of your team")
    refused(lambda: create_sale(world.manager, sale_input(world), idempotency_key=key(), agent_id=world.manager.id),
            field="agent_id", says="active agent of your team")
    refused(lambda: create_sale(world.manager, sale_input(world), idempotency_key=key()),
            field="agent_id", says="active agent of your team")


@pytest.mark.parametrize("bad_key", [None, "", "short", "x" * 65, "has spaces in it", "semi;colon;key"])
def test_bad_idempotency_keys_are_refused(world, bad_key):
    """The key is an opaque token the form generated; anything else is a 400 'form expired'."""
    refused(lambda: create_sale(world.agent, sale_input(world), idempotency_key=bad_key),
            field="idempotency_key", status=400, says="expired")


def test_the_same_key_twice_returns_the_same_sale(world):
    """A retried submission writes one row and returns the first sale (created False)."""
    before = state()
    token = key()
    first, created = create_sale(world.agent, sale_input(world), idempotency_key=token)
    assert created
    after_first = state()
    again, created_again = create_sale(world.agent, sale_input(world, quantity=7), idempotency_key=token)
    assert (again.id, created_again, again.quantity) == (first.id, False, 2)
    assert state() == after_first
    assert after_first["sales"] == before["sales"] + 1
    # Keys are per person: the agent's manager using the same token records a separate sale.
    other, created_other = create_sale(world.manager, sale_input(world), idempotency_key=token,
                                       agent_id=world.agent.id)
    assert created_other and other.id != first.id


# ---- Decisions -----------------------------------------------------------------------------------------------


def pending_sale(world, actor=None):
    """A pending sale of the agent in the open period (entered by `actor`, default the agent)."""
    actor = actor or world.agent
    agent_id = None if actor is world.agent else world.agent.id
    sale, _ = create_sale(actor, sale_input(world), idempotency_key=key(), agent_id=agent_id)
    return sale


def test_approving_a_rejected_sale_is_a_conflict(world):
    """Only pending sales can be approved; the message says who decided it."""
    sale = pending_sale(world)
    reject_sale(world.manager, sale, "duplicate order")
    error = refused(lambda: approve_sale(world.admin, sale), status=409, says="already rejected")
    assert world.manager.name in error.message


def test_nobody_approves_a_sale_they_entered(world):
    """A manager who recorded a sale for an agent needs another manager or an admin to approve it."""
    sale = pending_sale(world, actor=world.manager)
    refused(lambda: approve_sale(world.manager, sale), status=403, says="You entered this sale")
    approve_sale(world.admin, sale)
    assert sale.status == "approved"


def test_voiding_twice_is_a_conflict(world):
    """The second void finds the sale voided already and changes nothing (no second clawback)."""
    sale = pending_sale(world)
    approve_sale(world.manager, sale)
    void_sale(world.manager, sale, "refunded")
    refused(lambda: void_sale(world.admin, sale, "refunded again"), status=409, says="already voided")


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_reject_and_void_need_a_reason(world, reason):
    """No reason, no decision."""
    sale = pending_sale(world)
    refused(lambda: reject_sale(world.manager, sale, reason), field="reason", says="Give a reason")
    approve_sale(world.manager, sale)
    refused(lambda: void_sale(world.manager, sale, reason), field="reason", says="Give a reason")


def test_decisions_outside_ones_team_are_not_found(world):
    """Another team's manager cannot even see the sale (404, not 403)."""
    sale = pending_sale(world)
    before = state()
    with pytest.raises(NotFound):
        approve_sale(world.other_manager, sale)
    with pytest.raises(NotFound):
        approve_sale(world.agent, sale)
    assert state() == before


# ---- Payouts ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -100, 1.5, "100", None, True])
def test_payout_amounts_must_be_positive_whole_cents(world, amount):
    """Zero, negative and non-integer amounts are refused."""
    refused(lambda: record_payout(world.admin, agent_id=world.agent.id, amount_cents=amount, paid_on=OPEN_DAY),
            field="amount", says="greater than zero")


def test_a_payout_over_the_balance_needs_the_advance_flag(world):
    """30.00 is unpaid: 30.01 is refused, unless it is an advance, which takes the balance negative."""
    assert ledger.agent_balance(world.agent.id).unpaid == 3000
    refused(lambda: record_payout(world.admin, agent_id=world.agent.id, amount_cents=3001, paid_on=OPEN_DAY),
            field="amount", says="more than the unpaid balance ($30.00)")
    record_payout(world.admin, agent_id=world.agent.id, amount_cents=3000, paid_on=OPEN_DAY)
    assert ledger.agent_balance(world.agent.id).unpaid == 0
    refused(lambda: record_payout(world.admin, agent_id=world.agent.id, amount_cents=1, paid_on=OPEN_DAY),
            field="amount", says="more than the unpaid balance ($0.00)")
    record_payout(world.admin, agent_id=world.agent.id, amount_cents=5000, paid_on=OPEN_DAY, advance=True)
    balance = ledger.agent_balance(world.agent.id)
    assert (balance.paid, balance.unpaid) == (8000, -5000)
    # Later commission repays the advance.
    sale = pending_sale(world)  # 25.00 at 3% = 0.75
    approve_sale(world.manager, sale)
    assert ledger.agent_balance(world.agent.id).unpaid == -5000 + 75


@pytest.mark.parametrize("paid_on, says", [
    (CLOSED_DAY, "closed period"),
    (date(2026, 11, 21), "cannot be in the future"),
    (datetime.datetime(2026, 11, 18, 10, 0), "Enter the payment date"),
    (None, "Enter the payment date"),
])
def test_payout_dates(world, paid_on, says):
    """A payout is dated today or earlier, in an open period, and is a plain date."""
    refused(lambda: record_payout(world.admin, agent_id=world.agent.id, amount_cents=100, paid_on=paid_on),
            field="paid_on", says=says)


def test_payouts_go_to_agents_only(world):
    """A manager or an unknown id is not an agent."""
    for agent_id in (world.manager.id, 999_999, None, "1"):
        refused(lambda: record_payout(world.admin, agent_id=agent_id, amount_cents=100, paid_on=OPEN_DAY),
                field="agent_id", says="Choose an agent")
