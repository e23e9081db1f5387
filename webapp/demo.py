"""The demo organisation for a local run: idempotent, safe to run on every start."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import date, datetime, time as day_time, timedelta, timezone
from decimal import Decimal
from typing import Callable, Iterator

from flask import current_app
from sqlalchemy import insert, select, text

from webapp import clock
from webapp.auth import services as accounts
from webapp.auth.models import Role, User
from webapp.catalog import services as catalog
from webapp.catalog.models import Category, Customer, Product
from webapp.commissions import assignments, plans, targets
from webapp.commissions.ledger import recompute_agent_range
from webapp.commissions.models import CommissionPlan, Period, PeriodStatus, PlanAssignment, Target
from webapp.commissions.periods import period_for
from webapp.extensions import db
from webapp.sales import services as sales
from webapp.sales.credits import add_missing_primary_credits
from webapp.sales.models import Sale, SaleStatus
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
# Carla is on the attainment plan, so `make run` shows attainment, its panel and "no target" flags.
ATTAINMENT_AGENT = 2


def _ensure_user(email: str, name: str, role: Role, manager_id: int | None = None) -> tuple[User, bool]:
    """The user with this email, created if missing. Returns (user, created)."""
    user = accounts.find_user_by_email(email)
    if user is not None:
        return user, False
    # As a hash: the shared, published demo password is one the password policy rightly refuses.
    return accounts.create_user(None, email=email, name=name, role=role, manager_id=manager_id,
                                password_hash=accounts.hash_password(DEMO_PASSWORD)), True


def _ensure_catalogue() -> dict[str, Product]:
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
    flat, tiered = _demo_plans()
    accelerator = _attainment_plan()
    for index, agent in enumerate(agents):
        if not plans.assignments_of(agent.id):
            plan = accelerator if index == ATTAINMENT_AGENT else tiered if index % 2 else flat
            assignments.assign_plan(None, agent_id=agent.id, plan_id=plan.id, effective_from=date(2000, 1, 1))
        for month in (month_start, (month_start - timedelta(days=1)).replace(day=1)):
            if plans.target_for(agent.id, month) is None:
                targets.set_target(None, agent_id=agent.id, month=month, amount_cents=25_000_000)


def _demo_plans() -> tuple[CommissionPlan, CommissionPlan]:
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
    data = sales.SaleInput(product_id=product.id, quantity=1, unit_price=Decimal(product.list_price_cents) / 100,
                           sold_on=sold_on, customer_id=customer.id, note="Joint pitch with Bob.",
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
        start_period_run(None, oldest)


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
    products = _ensure_catalogue()
    _ensure_plans(agents, today.replace(day=1))
    _ensure_sales(agents, products, today)
    return created


# ---- Bulk data for benchmarks: `flask demo generate` -------------------------------------------

GENERATED_DOMAIN = "generated.example"
TEAM_SIZE = 25
GENERATED_CUSTOMERS = 200
SALE_COLUMNS = ("agent_id", "product_id", "customer_id", "quantity", "unit_price_cents", "amount_cents",
                "sold_on", "status", "entered_by_id", "idempotency_key", "decided_by_id", "decided_at", "reason")
# The product asks a reason for every rejection and void; generated ones say where they came from.
REASONS = {SaleStatus.REJECTED: "Generated: customer signature missing.",
           SaleStatus.VOIDED: "Generated: order cancelled by the customer."}
# Rows per executemany batch where there is no COPY (SQLite): bounded memory, few round trips.
BATCH = 20_000


@dataclass(frozen=True)
class GenerateReport:
    """What `generate_demo` made and how long each step took (seconds)."""

    managers: int
    agents: int
    sales: int
    approved: int
    first_day: date
    last_day: date
    insert_seconds: float
    ledger_seconds: float


def _bulk_users(role: Role, rows: list[tuple[str, str, int | None]], password_hash: str) -> list[int]:
    """Insert users in one statement (one password hash for all: scrypt per user would take minutes)."""
    db.session.execute(insert(User), [
        {"email": email, "name": name, "role": role, "manager_id": manager_id, "password_hash": password_hash}
        for email, name, manager_id in rows])
    emails = [email for email, _, _ in rows]
    by_email = dict(db.session.execute(select(User.email, User.id).where(User.email.in_(emails))).all())
    return [by_email[email] for email in emails]


def _sale_rows(rng: random.Random, count: int, agents: list[tuple[int, int]], products: list[Product],
               customers: list[int], first: date, last: date, now: datetime) -> Iterator[tuple]:
    """`count` sales spread evenly over agents and days; older ones decided, the last month partly pending."""
    span = (last - first).days
    recent = last - timedelta(days=30)
    for n in range(count):
        agent_id, manager_id = agents[n % len(agents)]
        product = products[rng.randrange(len(products))]
        sold_on = first + timedelta(days=rng.randint(0, span))
        quantity = rng.choice((1, 1, 1, 2, 3))
        # Prices vary around the list price, as negotiated sales do (whole dollars keep it readable).
        unit_price = max(100, product.list_price_cents + rng.randint(-20, 20) * 100 * (product.list_price_cents // 100_000))
        roll = rng.random()
        if sold_on > recent and roll < 0.3:
            status = SaleStatus.PENDING
        elif roll < 0.97:
            status = SaleStatus.APPROVED
        elif roll < 0.99:
            status = SaleStatus.REJECTED
        else:
            status = SaleStatus.VOIDED
        decided_at = None
        if status != SaleStatus.PENDING:
            # Decided the next morning, or by now for today's and yesterday's sales.
            decided_at = min(datetime.combine(sold_on + timedelta(days=1), day_time(9), tzinfo=timezone.utc), now)
        yield (agent_id, product.id, customers[rng.randrange(len(customers))], quantity, unit_price,
               quantity * unit_price, sold_on, status, agent_id, f"gen-{n:09d}",
               manager_id if decided_at else None, decided_at, REASONS.get(status))


def _copy_sales(rows: Iterator[tuple]) -> None:
    """Load sales with PostgreSQL's COPY, or in executemany batches elsewhere."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY sales ({', '.join(SALE_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    batch = []
    for row in rows:
        batch.append(dict(zip(SALE_COLUMNS, row)))
        if len(batch) == BATCH:
            db.session.execute(insert(Sale), batch)
            batch = []
    if batch:
        db.session.execute(insert(Sale), batch)


def _analyze() -> None:
    """Refresh the planner's statistics after a bulk load.

    Without them (autovacuum off, or not yet run) PostgreSQL picks the status/date index for an
    agent's month and reads every agent's rows: recomputing the ledger ran about 9x slower.
    """
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def _refuse_unless_empty(agents: int, sales: int, months: int) -> None:
    """Refuse production, impossible sizes and a database that already has data."""
    if current_app.config["PRODUCTION"]:
        raise RuntimeError("Generated data is for benchmarks and local runs, not production.")
    if agents < 1 or sales < 0 or months < 1:
        raise ValueError("Need at least one agent and one month, and no negative number of sales.")
    if db.session.scalar(select(User.id).where(User.email.like(f"%@{GENERATED_DOMAIN}")).limit(1)):
        raise RuntimeError("Generated data is already in this database; generate into an empty one.")
    # Sales or closed periods already there would change the ledger the generator means to build
    # (a closed period turns lines into late adjustments); so: an empty database only.
    if db.session.scalar(select(Sale.id).limit(1)) or db.session.scalar(
            select(Period.id).where(Period.status == PeriodStatus.CLOSED).limit(1)):
        raise RuntimeError("This database already has sales or closed periods; generate into an empty one.")


def _month_starts(today: date, months: int) -> list[date]:
    """The first days of the `months` whole months before this one, and of this one."""
    first = today.replace(day=1)
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
    month_starts = [first]
    while month_starts[-1] < today.replace(day=1):
        month_starts.append((month_starts[-1] + timedelta(days=32)).replace(day=1))
    return month_starts


def _bulk_team(agents: int) -> tuple[list[int], list[int]]:
    """An admin, one manager per TEAM_SIZE agents, and the agents: (manager ids, agent ids)."""
    password_hash = accounts.hash_password(DEMO_PASSWORD)
    team_count = -(-agents // TEAM_SIZE)
    _bulk_users(Role.ADMIN, [(f"admin@{GENERATED_DOMAIN}", "Generated Admin", None)], password_hash)
    manager_ids = _bulk_users(Role.MANAGER, [(f"manager{m:03d}@{GENERATED_DOMAIN}", f"Manager {m:03d}", None)
                                             for m in range(1, team_count + 1)], password_hash)
    agent_ids = _bulk_users(Role.AGENT, [(f"agent{a:04d}@{GENERATED_DOMAIN}", f"Agent {a:04d}",
                                          manager_ids[(a - 1) // TEAM_SIZE]) for a in range(1, agents + 1)],
                            password_hash)
    return manager_ids, agent_ids


def _bulk_plans_and_targets(agent_ids: list[int], plans: tuple[CommissionPlan, CommissionPlan],
                            products: list[Product], sales: int, month_starts: list[date]) -> None:
    """Every other agent on the tiered plan, the rest on the flat one; a monthly target for each."""
    flat, tiered = plans
    db.session.execute(insert(PlanAssignment), [
        {"agent_id": agent_id, "plan_id": (tiered if index % 2 else flat).id, "effective_from": date(2000, 1, 1)}
        for index, agent_id in enumerate(agent_ids)])
    # Targets near what an agent will sell in a month (sales spread evenly; 1.6 units a sale on
    # average), rounded to $1,000, so the target bars show attainment around 100%.
    mean_price = sum(p.list_price_cents for p in products) // len(products)
    expected = sales * mean_price * 8 // (5 * len(agent_ids) * len(month_starts))
    target_cents = max(100_000, round(expected, -5))
    db.session.execute(insert(Target), [{"agent_id": agent_id, "month": month, "amount_cents": target_cents}
                                        for agent_id in agent_ids for month in month_starts])


def _bulk_customers() -> list[int]:
    """GENERATED_CUSTOMERS customers; their ids."""
    db.session.execute(insert(Customer), [{"name": f"Customer {c:03d}", "email": f"buyer{c:03d}@{GENERATED_DOMAIN}"}
                                          for c in range(1, GENERATED_CUSTOMERS + 1)])
    return list(db.session.scalars(select(Customer.id).where(Customer.email.like(f"%@{GENERATED_DOMAIN}"))))


def _compute_ledgers(agent_ids: list[int], first: date, say: Callable[[str], None]) -> None:
    """The ledger of every agent from `first` on, by the product's own recompute, committing each."""
    started = time.perf_counter()
    for done, agent_id in enumerate(agent_ids, start=1):
        recompute_agent_range(agent_id, first, None)
        db.session.commit()
        # Fresh planner statistics while the ledger tables grow from empty.
        if done in (10, 50) or done % 100 == 0:
            _analyze()
        if done % 50 == 0 or done == len(agent_ids):
            say(f"Ledger: {done}/{len(agent_ids)} agents ({time.perf_counter() - started:.0f} s).")


def generate_demo(agents: int, sales: int, months: int = 12, seed: int = 20261126,
                  progress: Callable[[str], None] | None = None) -> GenerateReport:
    """Bulk data for benchmarks: an admin, agents in teams of 25 with plans and targets, sales, the ledger.

    Sales are spread over the `months` whole months before this one and this month up to today;
    older sales are decided (97% approved), the last 30 days' partly pending. Users, sales,
    assignments and targets are bulk-inserted (COPY on PostgreSQL) without audit events, then
    the ledger is computed by the product's own recompute, agent by agent, committing each.
    """
    say = progress or (lambda _message: None)
    _refuse_unless_empty(agents, sales, months)
    started = time.perf_counter()
    rng = random.Random(seed)
    today = clock.today()
    month_starts = _month_starts(today, months)
    first = month_starts[0]
    # Only what any agent may sell (the demo catalogue, plus any product already there).
    products = [p for p in _ensure_catalogue().values() if p.active and not p.restricted]
    plans = _demo_plans()
    manager_ids, agent_ids = _bulk_team(agents)
    _bulk_plans_and_targets(agent_ids, plans, products, sales, month_starts)
    customers = _bulk_customers()
    team = [(agent_id, manager_ids[index // TEAM_SIZE]) for index, agent_id in enumerate(agent_ids)]
    _copy_sales(_sale_rows(rng, sales, team, products, customers, first, today, clock.now_utc()))
    add_missing_primary_credits()
    db.session.commit()
    _analyze()
    inserted = time.perf_counter()
    managers = len(manager_ids)
    say(f"Inserted {managers} managers, {agents} agents and {sales:,} sales in {inserted - started:.1f} s.")
    _compute_ledgers(agent_ids, first, say)
    approved = db.session.scalar(select(db.func.count()).select_from(Sale).where(
        Sale.status == SaleStatus.APPROVED, Sale.idempotency_key.like("gen-%")))
    return GenerateReport(managers=managers, agents=agents, sales=sales, approved=approved, first_day=first,
                          last_day=today, insert_seconds=inserted - started,
                          ledger_seconds=time.perf_counter() - inserted)
