"""Benchmark P4: recompute one month's ledger for all 500 agents vs one SQL aggregate pass.

Run from the repository root: `.venv/bin/python bench/recompute_month.py [--repeats N] [--agents A --sales S]`
(PostgreSQL: BENCH_DATABASE_URL, default the local server; the data set of 1,000,000 sales is built
once by bench/dataset.py with `flask demo generate` and reused).

The month is last month (whole, about 75,000 sales). Each case runs in one transaction that is
rolled back, so the data set is left as it was:

- steady: the set-based `recompute_agents_month` for all agents at once (one lock statement, then
  loads, computes, compares, writes nothing) when nothing changed - what a plan change costs at least;
- steady, agent by agent: `recompute_agent_month` for each agent in turn (the batch of one, what a
  single sale's change costs), for context;
- rebuild: the batch after deleting the month's commission lines, so every line is inserted again
  (checked: the month's commission comes back to the cent);
- plan change: what an admin's new plan version effective on the 1st of this month triggers
  inside the request (`plan_versions.add_version`: every agent on the plan, this month), for the tiered
  plan that half the agents are on.

Baseline, in the same loop: one SQL aggregate pass over the same month (approved volume and count
per agent, GROUP BY agent). The engine alone on the same lines is reported for context. Prints
milliseconds and ratios; writes bench/results/recompute_month.json.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "recompute-bench")

from sqlalchemy import delete, event, func, select, text  # noqa: E402

from bench.common import bare_engine, free_day, machine, print_rows, sized, summarise, timed_ms, write_results  # noqa: E402
from bench.dashboards import build_app  # noqa: E402
from bench.dataset import ensure_dataset, server_url  # noqa: E402

BASELINE_SQL = text("""
SELECT agent_id, sum(amount_cents), count(*) FROM sales
WHERE status = 'approved' AND sold_on BETWEEN :first AND :last GROUP BY agent_id
""")


def last_month() -> tuple[date, date]:
    """First and last day of the month before this one."""
    last = date.today().replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def month_commission(first: date, last: date) -> int:
    """The month's sale-line commission over all agents (cents)."""
    from webapp.commissions.models import CommissionEntry
    from webapp.extensions import db
    from webapp.sales.models import Sale

    return int(db.session.scalar(select(func.coalesce(func.sum(CommissionEntry.amount_cents), 0))
                                 .join(Sale, CommissionEntry.sale_id == Sale.id)
                                 .where(Sale.sold_on >= first, Sale.sold_on <= last)))


def recompute_all(agent_ids: list[int], month: date) -> None:
    """The set-based recompute of every agent's month under their locks, flushed (writes inside the time)."""
    from webapp.commissions.ledger import lock_agents, recompute_agents_month
    from webapp.extensions import db

    lock_agents(agent_ids)
    recompute_agents_month(agent_ids, month)
    db.session.flush()


def recompute_one_by_one(agent_ids: list[int], month: date) -> None:
    """recompute_agent_month for each agent in turn (each a batch of one), flushed."""
    from webapp.commissions.ledger import lock_agent, recompute_agent_month
    from webapp.extensions import db

    for agent_id in agent_ids:
        lock_agent(agent_id)
        recompute_agent_month(agent_id, month)
    db.session.flush()


def statements_of(work, *args) -> int:
    """How many SQL statements `work(*args)` sends (the connection's own BEGIN/COMMIT aside)."""
    from webapp.extensions import db

    seen = []
    engine = db.engine

    def listener(_connection, _cursor, statement, *_rest):
        """Note one statement."""
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        work(*args)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(seen)


def delete_month_lines(first: date, last: date) -> int:
    """Delete the month's sale lines (inside the open transaction); returns how many."""
    from webapp.commissions.models import CommissionEntry
    from webapp.extensions import db
    from webapp.sales.models import Sale

    month_sales = select(Sale.id).where(Sale.sold_on >= first, Sale.sold_on <= last)
    return db.session.execute(delete(CommissionEntry).where(CommissionEntry.kind == "sale",
                                                            CommissionEntry.sale_id.in_(month_sales))).rowcount


def plan_change(plan_name: str) -> int:
    """Add a version of the plan effective on the 1st of this month, or the first day after it
    without one (as the admin's form does)."""
    from flask import current_app

    from webapp.commissions import plan_versions, plans
    from webapp.commissions.models import CommissionPlan
    from webapp.extensions import db

    plan = db.session.scalar(select(CommissionPlan).where(CommissionPlan.name == plan_name))
    rules = plans.current_rules(plan)
    rules = plans.PlanRules(tiers=[(start, rate + Decimal("0.5")) for start, rate in rules.tiers],
                            tier_mode=rules.tier_mode, category_rates=rules.category_rates,
                            product_rates=rules.product_rates)
    # Measured inline, as P4 defines it: above OPERATION_INLINE_LIMIT the admin's page now hands the
    # recompute to a background operation (docs/background-operations.md), which calls the same code.
    limit = current_app.config["OPERATION_INLINE_LIMIT"]
    current_app.config["OPERATION_INLINE_LIMIT"] = 10**9
    try:
        plan_versions.add_version(None, plan, rules, free_day(plan, date.today().replace(day=1), date.today()))
    finally:
        current_app.config["OPERATION_INLINE_LIMIT"] = limit
    db.session.flush()
    return len([a for a in plans.list_assignments() if a.plan_id == plan.id])


def engine_only(agent_ids: list[int], month: date) -> None:
    """engine.compute_month on each agent's month, the lines loaded beforehand (see main)."""
    from webapp.commissions import engine

    for lines in LOADED.values():
        engine.compute_month(lines)


LOADED: dict[int, list] = {}


def load_lines(agent_ids: list[int], month: date) -> None:
    """Build every agent's engine lines for the month once, for the engine-only figure."""
    from webapp.commissions import ledger
    from webapp.sales.models import SaleStatus

    for agent_id in agent_ids:
        resolver = ledger.PlanResolver(agent_id)
        LOADED[agent_id] = [ledger.sale_line(s, resolver)[0]
                            for s in ledger.month_sales(agent_id, month, (SaleStatus.APPROVED,))]


def main() -> int:
    """Time each case against the SQL pass, interleaved, each in a rolled-back transaction; report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one-by-one", type=int, default=500,
                        help="agents in the agent-by-agent case (the first N; its figure is per agent too)")
    args = parser.parse_args()

    url = ensure_dataset(server_url(), args.agents, args.sales)
    app = build_app(url)
    bare = bare_engine(url)
    first, last = last_month()
    from webapp.auth.models import User
    from webapp.demo import TIERED_PLAN
    from webapp.extensions import db

    def baseline() -> list:
        """The one SQL aggregate pass, on its own connection."""
        with bare.connect() as connection:
            return connection.execute(BASELINE_SQL, {"first": first, "last": last}).all()

    samples: dict[str, list[float]] = {"steady": [], "rebuild": [], "plan change": [], "engine only": [],
                                       "steady, agent by agent": [], "baseline": []}
    with app.app_context():
        agent_ids = list(db.session.scalars(select(User.id).where(User.role == "agent").order_by(User.id)))
        sales_in_month = sum(row[2] for row in baseline())
        before = month_commission(first, last)
        load_lines(agent_ids, first)
        db.session.rollback()
        changed_agents = 0
        for _ in range(args.repeats):
            samples["baseline"].append(timed_ms(baseline)[0])
            samples["engine only"].append(timed_ms(engine_only, agent_ids, first)[0])
            samples["steady"].append(timed_ms(recompute_all, agent_ids, first)[0])
            db.session.rollback()
            samples["steady, agent by agent"].append(timed_ms(recompute_one_by_one, agent_ids[:args.one_by_one], first)[0])
            db.session.rollback()
            deleted = delete_month_lines(first, last)
            samples["rebuild"].append(timed_ms(recompute_all, agent_ids, first)[0])
            rebuilt = month_commission(first, last)
            db.session.rollback()
            assert deleted > 0 and rebuilt == before, f"rebuild gave {rebuilt} cents, the ledger had {before}"
            took, changed_agents = timed_ms(plan_change, TIERED_PLAN)
            samples["plan change"].append(took)
            db.session.rollback()
        statements = {"steady batch": statements_of(recompute_all, agent_ids, first)}
        db.session.rollback()
        delete_month_lines(first, last)
        statements["rebuild batch"] = statements_of(recompute_all, agent_ids, first)
        db.session.rollback()
        statements["plan change"] = statements_of(plan_change, TIERED_PLAN)
        db.session.rollback()
        statements["one agent (batch of one)"] = statements_of(recompute_one_by_one, agent_ids[:1], first)
        db.session.rollback()
        assert month_commission(first, last) == before  # everything was rolled back
    figures = {name: summarise(values, samples["baseline"]) for name, values in samples.items()}
    per_agent = {name: round(figures[name]["median_ms"] / len(agent_ids), 2) for name in ("steady", "rebuild")}
    per_agent["steady, agent by agent"] = round(figures["steady, agent by agent"]["median_ms"]
                                                / len(agent_ids[:args.one_by_one]), 2)
    report = {
        "benchmark": "P4: recompute one month's ledger for every agent vs one SQL aggregate pass",
        "data": {"agents": len(agent_ids), "sales": args.sales, "month": f"{first}..{last}",
                 "sales_approved_in_month": sales_in_month, "month_commission_cents": before,
                 "plan_change_agents": changed_agents, "agent_by_agent_agents": len(agent_ids[:args.one_by_one])},
        "repeats": args.repeats,
        "kinds": {"steady": "recompute_agents_month for all agents at once, nothing changed",
                  "steady, agent by agent": "recompute_agent_month for each agent in turn, nothing changed",
                  "rebuild": "recompute_agents_month after deleting the month's lines",
                  "plan change": "plan_versions.add_version effective the 1st of this month (tiered plan)",
                  "engine only": "engine.compute_month on pre-built lines, no database",
                  "baseline": "SELECT agent_id, sum(amount_cents), count(*) ... GROUP BY agent_id"},
        "figures": figures,
        "per_agent_ms": per_agent,
        "statements": statements,
        **machine(),
    }
    print(f"P4 recompute {first:%B %Y} ({sales_in_month:,} approved sales) for {len(agent_ids)} agents, "
          f"median of {args.repeats}")
    print_rows(figures)
    print(f"per agent-month: steady {per_agent['steady']} ms, rebuild {per_agent['rebuild']} ms")
    print(f"statements: {statements}")
    write_results(sized("recompute_month", args.agents, args.sales), report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
