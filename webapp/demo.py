"""The demo organisation for a local run: idempotent, safe to run on every start."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from webapp import clock
from webapp.auth import services as accounts
from webapp.auth.models import Role, User
from webapp.catalog import services as catalog
from webapp.catalog.models import Category, Customer, Product
from webapp.commissions import assignments, plans, targets
from webapp.commissions.models import CommissionPlan
from webapp.commissions.periods import period_for
from webapp.extensions import db
from webapp.plandocs import services as plandocs
from webapp.plandocs.acknowledgements import acknowledge
from webapp.plandocs.models import PlanAcknowledgement, PlanDocument
from webapp.sales import services as sales
from webapp.sales.models import Sale
from webapp.spiffs import services as spiff_services
from webapp.spiffs.models import Spiff
from webapp.statements.services import start_period_run

# A known password is the point of a demo; `flask demo seed` refuses to run in production.
DEMO_PASSWORD = "demo-password"

ADMIN = ("admin@demo.example", "Ada Admin")
MANAGERS = [("maria.manager@demo.example", "Maria Lopez"), ("sam.manager@demo.example", "Sam Okafor")]
AGENTS = [
    ("alice.agent@demo.example", "Alice Chen", 0),
    ("bob.agent@demo.example", "Bob Martin", 0),
    ("carla.agent@demo.example", "Carla Rossi", 0),
    ("dev.agent@demo.example", "Dev Patel", 1),
    ("emma.agent@demo.example", "Emma Novak", 1),
    ("farid.agent@demo.example", "Farid Haddad", 1),
]

# The seed's five categories, with a realistic catalogue (prices in the seed's 5,000-50,000 band).
CATEGORIES = [
    ("medical", "Medical"), ("food_beverages", "Food & beverages"), ("construction", "Construction"),
    ("office_supplies", "Office supplies"), ("technology", "Technology"),
]
PRODUCTS = [
    ("MED-100", "Patient monitor", "medical", "12500.00"),
    ("MED-210", "Portable ultrasound", "medical", "38900.00"),
    ("FNB-010", "Commercial espresso machine", "food_beverages", "7800.00"),
    ("FNB-044", "Walk-in cooler", "food_beverages", "21400.00"),
    ("CON-300", "Mini excavator rental (month)", "construction", "9600.00"),
    ("CON-512", "Scaffolding system", "construction", "16750.00"),
    ("OFF-020", "Ergonomic office fit-out", "office_supplies", "5400.00"),
    ("OFF-075", "Print fleet contract", "office_supplies", "11200.00"),
    ("TEC-101", "Server rack, configured", "technology", "27300.00"),
    ("TEC-230", "Laptop fleet (10 units)", "technology", "14900.00"),
]
CUSTOMERS = ["Northwind Clinics", "Harbor Foods", "Summit Builders", "Bluebird Offices", "Atlas Logistics",
             "Greenfield Schools", "Riverside Hospital", "Cobalt Data", "Maple Hotels", "Pioneer Labs"]
FLAT_PLAN = "Standard 3%"
TIERED_PLAN = "Growth tiers"
ATTAINMENT_PLAN = "Quota accelerator"
DEMO_SPIFF = "Year-end technology push"
# Dev is on the attainment plan, so `make run` shows attainment and its dashboard panel (no browser
# test relies on his figures).
ATTAINMENT_AGENT = 3
# Bob (Maria's team) and Dev (Sam's) have acknowledged their plan documents, the others not yet, so
# the follow-up pages show both states; Alice's stays pending, so she sees the banner.
ACKNOWLEDGING_AGENTS = (1, 3)


def _ensure_user(email: str, name: str, role: Role, manager_id: int | None = None) -> tuple[User, bool]:
    """The user with this email, created if missing. Returns (user, created)."""
    user = accounts.find_user_by_email(email)
    if user is not None:
        return user, False
    # As a hash: the shared, published demo password is one the password policy rightly refuses.
    return accounts.create_user(None, email=email, name=name, role=role, manager_id=manager_id,
                                password_hash=accounts.hash_password(DEMO_PASSWORD)), True


def ensure_catalogue() -> dict[str, Product]:
    """Categories and products, created when missing."""
    categories = {c.code: c for c in db.session.scalars(select(Category))}
    for code, name in CATEGORIES:
        if code not in categories:
            categories[code] = catalog.save_category(None, None, code=code, name=name)
    products = {p.sku: p for p in db.session.scalars(select(Product))}
    for sku, name, code, price in PRODUCTS:
        if sku not in products:
            products[sku] = catalog.save_product(None, None, sku=sku, name=name, category_id=categories[code].id,
                                                 list_price_cents=int(Decimal(price) * 100))
    if not db.session.scalar(select(Customer.id).limit(1)):
        for name in CUSTOMERS:
            catalog.create_customer(None, name=name, email=f"buyer@{name.split()[0].lower()}.example")
    return products


def _ensure_plans(agents: list[User], month_start: date) -> None:
    """A flat 3% plan (the seed's rate), a tiered plan and an attainment plan; assignments and targets."""
    flat, tiered = demo_plans()
    accelerator = _attainment_plan()
    for index, agent in enumerate(agents):
        if not plans.assignments_of(agent.id):
            plan = accelerator if index == ATTAINMENT_AGENT else tiered if index % 2 else flat
            assignments.assign_plan(None, agent_id=agent.id, plan_id=plan.id, effective_from=date(2000, 1, 1))
        for month in (month_start, (month_start - timedelta(days=1)).replace(day=1)):
            if plans.target_for(agent.id, month) is None:
                targets.set_target(None, agent_id=agent.id, month=month, amount_cents=25_000_000)


def demo_plans() -> tuple[CommissionPlan, CommissionPlan]:
    """The flat and the tiered demo plans, created when missing."""
    existing = {p.name: p for p in db.session.scalars(select(CommissionPlan))}
    tech = db.session.scalar(select(Category).where(Category.code == "technology"))
    flat = existing.get(FLAT_PLAN) or plans.create_plan(
        None, name=FLAT_PLAN, description="The seed's flat rate, with a technology bonus.",
        rules=plans.PlanRules(base_rate=Decimal("3"), category_rates={tech.id: Decimal("4")}),
        effective_from=date(2000, 1, 1))
    tiered = existing.get(TIERED_PLAN) or plans.create_plan(
        None, name=TIERED_PLAN, description="Marginal tiers on monthly volume.",
        rules=plans.PlanRules(tiers=[(Decimal("0"), Decimal("3")), (Decimal("50000"), Decimal("4")),
                                     (Decimal("100000"), Decimal("5"))], tier_mode="marginal"),
        effective_from=date(2000, 1, 1))
    return flat, tiered


def _attainment_plan() -> CommissionPlan:
    """Retroactive brackets on percent of the month's target, created when missing."""
    existing = db.session.scalar(select(CommissionPlan).where(CommissionPlan.name == ATTAINMENT_PLAN))
    return existing or plans.create_plan(
        None, name=ATTAINMENT_PLAN, description="Accelerators on attainment of the monthly target.",
        rules=plans.PlanRules(tiers=[(Decimal("0"), Decimal("2")), (Decimal("50"), Decimal("3.5")),
                                     (Decimal("100"), Decimal("5"))], tier_mode="retroactive",
                              basis="target_percent"),
        effective_from=date(2000, 1, 1))


def _ensure_plan_documents(agents: list[User]) -> None:
    """Issue the plan documents of the demo's assignments, then acknowledge some (idempotent)."""
    while plandocs.issue_missing():  # a batch at a time, as the job does (each is flushed)
        pass
    for index in ACKNOWLEDGING_AGENTS:
        agent = agents[index]
        if db.session.scalar(select(PlanAcknowledgement.id).where(PlanAcknowledgement.agent_id == agent.id).limit(1)):
            continue
        for document in db.session.scalars(select(PlanDocument).where(
                PlanDocument.agent_id == agent.id, PlanDocument.superseded_at.is_(None)).order_by(PlanDocument.id)):
            # As through the acknowledgement form: the document seen, the name typed, when and from where.
            acknowledge(agent, document, agent.name, ip="127.0.0.1", user_agent="demo")


def _ensure_spiff(first: date, today: date) -> None:
    """A SPIFF running from last month to the end of next month: 2% on technology, capped monthly."""
    if db.session.scalar(select(Spiff.id).where(Spiff.name == DEMO_SPIFF)):
        return
    tech = db.session.scalar(select(Category).where(Category.code == "technology"))
    last = (today.replace(day=28) + timedelta(days=40)).replace(day=1) - timedelta(days=1)
    spiff_services.create_spiff(None, DEMO_SPIFF, spiff_services.SpiffRules(
        first_day=first, last_day=last, percent=Decimal("2"), cap=Decimal("1000.00"), category_ids=[tech.id]))


def _split_sale(agents: list[User], products: dict[str, Product], customer: Customer, sold_on: date) -> Sale:
    """Alice's sale shared 60/40 with Bob (split credit), pending until the manager decides."""
    product = products["TEC-101"]
    data = sales.SaleInput(product_id=product.id, quantity=1,
                           unit_price=Decimal(product.list_price_cents) / 100, sold_on=sold_on,
                           customer_id=customer.id, note="Joint pitch with Bob.",
                           co_agents=(sales.CoAgentInput(agent_id=agents[1].id, share=Decimal("40")),))
    return sales.create_sale(agents[0], data, idempotency_key="demo-split-001")[0]


def _ensure_sales(agents: list[User], products: dict[str, Product], today: date) -> None:
    """Two months of sales in mixed states, then the oldest period closed (idempotent by key)."""
    if db.session.scalar(select(Sale.id).where(Sale.idempotency_key.like("demo-%")).limit(1)):
        return
    rng = random.Random(20261126)
    customers = list(db.session.scalars(select(Customer).order_by(Customer.id)))
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    days = (today - first).days
    made: list[tuple[Sale, str]] = []
    for agent in agents:
        for n in range(14):
            product = rng.choice(list(products.values()))
            sold_on = first + timedelta(days=rng.randint(0, days))
            quantity = rng.choice([1, 1, 1, 2, 3])
            data = sales.SaleInput(product_id=product.id, quantity=quantity,
                                   unit_price=Decimal(product.list_price_cents) / 100, sold_on=sold_on,
                                   customer_id=rng.choice(customers).id, note=None)
            sale, _ = sales.create_sale(agent, data, idempotency_key=f"demo-{agent.id}-{n:03d}")
            fate = rng.choices(["approve", "pending", "reject", "void"], weights=[70, 18, 7, 5])[0]
            made.append((sale, fate))
    _ensure_spiff(first, today)
    made.append((_split_sale(agents, products, customers[0], today - timedelta(days=1)), "approve"))
    for sale, fate in made:
        manager = sale.agent.manager
        if fate in ("approve", "void"):
            sales.approve_sale(manager, sale)
        if fate == "reject":
            sales.reject_sale(manager, sale, "Customer signature missing on the order form.")
    for sale, fate in made:
        if fate == "void":
            sales.void_sale(sale.agent.manager, sale, "Order cancelled by the customer.")
    oldest = period_for(first)
    if oldest.is_open and oldest.end_date < today:
        # The statement run closes the period and issues its statements; the worker renders
        # the PDFs and mails them (to the outbox in a local run) after this commits.
        start_period_run(None, oldest, inline=True)  # issued at once, whatever the size


def seed_demo() -> bool:
    """Create the demo organisation where missing; True if any user was created."""
    if current_app.config["PRODUCTION"]:
        raise RuntimeError("The demo organisation is for local runs, not production.")
    created = _ensure_user(*ADMIN, Role.ADMIN)[1]
    managers = []
    for email, name in MANAGERS:
        manager, made = _ensure_user(email, name, Role.MANAGER)
        managers.append(manager)
        created |= made
    agents = []
    for email, name, team in AGENTS:
        agent, made = _ensure_user(email, name, Role.AGENT, managers[team].id)
        agents.append(agent)
        created |= made
    today = clock.today()
    products = ensure_catalogue()
    _ensure_plans(agents, today.replace(day=1))
    # Before the sales: the period statement the demo issues names each line's plan document.
    _ensure_plan_documents(agents)
    _ensure_sales(agents, products, today)
    return created
