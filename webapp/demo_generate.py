"""Bulk data for benchmarks (`flask demo generate`): thousands of agents in teams, a year of sales
loaded in bulk (COPY on PostgreSQL), and the ledger the product would have computed."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import date, datetime, time as day_time, timedelta, timezone
from typing import Callable, Iterator

from flask import current_app
from sqlalchemy import insert, select, text

from webapp import clock
from webapp.auth import services as accounts
from webapp.auth.models import Role, User
from webapp.catalog.models import Customer, Product
from webapp.commissions.ledger import recompute_agents_ranges
from webapp.commissions.models import CommissionPlan, Period, PeriodStatus, PlanAssignment, Target
from webapp.demo import DEMO_PASSWORD, demo_plans, ensure_catalogue
from webapp.extensions import db
from webapp.sales.credits import add_missing_primary_credits
from webapp.sales.models import Sale, SaleStatus

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
# Agents whose ledger one set-based recompute builds before a commit (memory stays small).
LEDGER_BATCH = 50


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
    """The ledger of every agent from `first` on, by the product's own set-based recompute, a batch
    of agents at a time (10 while the tables are small, then LEDGER_BATCH), committing each batch."""
    started, done = time.perf_counter(), 0
    while done < len(agent_ids):
        batch = agent_ids[done:done + (10 if done < 50 else LEDGER_BATCH)]
        recompute_agents_ranges([(agent_id, first, None) for agent_id in batch])
        db.session.commit()
        done += len(batch)
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
    products = [p for p in ensure_catalogue().values() if p.active and not p.restricted]
    plans = demo_plans()
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
