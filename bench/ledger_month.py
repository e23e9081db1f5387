"""Benchmark: recompute_agent_month for one agent with 10,000 approved sales in one month.

Run from the repository root: `.venv/bin/python bench/ledger_month.py [--sales N] [--repeats N] [--profile]`.

It builds a scratch database with the migrations (a temporary SQLite file; and, when
BENCH_DATABASE_URL names a PostgreSQL server, a scratch database `ledger_bench_<pid>` created on
that server and dropped afterwards; the database named in the URL is never touched), one agent on a
marginal tier plan with a category override, and N approved sales in November 2026 inserted in
bulk. Then it times, each in a fresh session as a request would have it:

- create: the first recompute, inserting one ledger entry per sale (entries deleted between repeats);
- steady: a recompute when nothing changed (reads and computes, writes nothing);
- update: a recompute after the month's earliest sale flips between voided and approved, so under
  marginal tiers nearly every line moves bracket and is updated in place (ids stable);

next to a bare baseline measured in the same run: the raw `SELECT sum(amount_cents) ... GROUP BY`
over the same rows, plus engine.compute_month alone on pre-built lines. Each recompute's flush is
inside its time; the commit is timed apart. Prints milliseconds and ratios and writes
bench/results/ledger_month.json. The requirement: "recomputing a month with 10,000 sales for one
agent takes well under a second" (the budget below).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import gc
import io
import json
import os
import platform
import pstats
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "ledger-bench")  # never generate instance/secret_key for a bench

from sqlalchemy import delete, insert, select, text, update  # noqa: E402

from bench.common import scratch_database  # noqa: E402

BUDGET_MS = 1000.0
RESULTS = ROOT / "bench" / "results" / "ledger_month.json"
MONTH = datetime.date(2026, 11, 1)
TODAY = datetime.date(2026, 12, 20)
TIERS = (("0", "3"), ("1000000", "5"), ("5000000", "7"), ("15000000", "9"))
CATEGORY_RATE = "8"


def build_app(url: str):
    """The application on `url`, its schema built by the migrations."""
    import fakeredis
    from flask_migrate import upgrade

    from webapp import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_CLIENT": fakeredis.FakeRedis(),
                      "RATELIMIT_STORAGE_URI": "memory://", "TESTING": True})
    with app.app_context():
        upgrade()
    return app


def populate(count: int, seed: int = 20261101) -> dict:
    """One agent on a marginal plan and `count` approved sales of November 2026, in bulk."""
    from webapp import clock
    from webapp.auth.models import User
    from webapp.catalog.models import Category, Customer, Product
    from webapp.commissions.assignments import assign_plan
    from webapp.commissions.plans import PlanRules, create_plan
    from webapp.extensions import db
    from webapp.sales.credits import add_missing_primary_credits
    from webapp.sales.models import Sale

    clock.today = lambda: TODAY
    manager = User(email="manager@bench.test", name="Manager", role="manager", password_hash="x")
    db.session.add(manager)
    db.session.flush()
    agent = User(email="agent@bench.test", name="Agent", role="agent", password_hash="x", manager_id=manager.id)
    categories = [Category(code="office", name="Office"), Category(code="technology", name="Technology")]
    db.session.add_all([agent, *categories])
    db.session.flush()
    products = [Product(sku=f"SKU-{n}", name=f"Product {n}", category_id=categories[n % 5 == 0].id,
                        list_price_cents=10_000) for n in range(40)]
    customer = Customer(name="Customer")
    db.session.add_all([*products, customer])
    db.session.flush()
    plan = create_plan(None, name="Bench marginal", description=None, effective_from=datetime.date(2000, 1, 1),
                       rules=PlanRules(tiers=[(Decimal(f), Decimal(r)) for f, r in TIERS], tier_mode="marginal",
                                       category_rates={categories[1].id: Decimal(CATEGORY_RATE)}))
    assign_plan(None, agent_id=agent.id, plan_id=plan.id, effective_from=datetime.date(2000, 1, 1))
    rnd = random.Random(seed)
    rows = []
    for number in range(count):
        quantity, price = rnd.randint(1, 5), rnd.randint(100, 100_000)
        rows.append({"agent_id": agent.id, "product_id": products[rnd.randrange(40)].id, "customer_id": customer.id,
                     "quantity": quantity, "unit_price_cents": price, "amount_cents": quantity * price,
                     "sold_on": MONTH.replace(day=rnd.randint(1, 30)), "status": "approved",
                     "entered_by_id": agent.id, "idempotency_key": f"bench-{number:08d}"})
    db.session.execute(insert(Sale), rows)
    add_missing_primary_credits()
    db.session.commit()
    # Planner statistics for the bulk-loaded rows, as `flask demo generate` takes and autovacuum
    # takes in production: without them PostgreSQL estimates 18 sales in the month and reads the
    # agent's whole entry index once per sale (seconds instead of milliseconds).
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    first = db.session.scalar(select(Sale.id).where(Sale.agent_id == agent.id)
                              .order_by(Sale.sold_on, Sale.id).limit(1))
    return {"agent_id": agent.id, "earliest_sale_id": first}


def timed(func, *args) -> tuple[float, object]:
    """Wall time of one call in milliseconds (heap collected first), and its result."""
    gc.collect()
    start = time.perf_counter()
    result = func(*args)
    return (time.perf_counter() - start) * 1000, result


def recompute(agent_id: int):
    """What a service does: take the agent lock and recompute the month (flush included)."""
    from webapp.commissions.ledger import lock_agent, recompute_agent_month

    lock_agent(agent_id)
    return recompute_agent_month(agent_id, MONTH)


def measure(app, ids: dict, repeats: int, profile: bool) -> dict:
    """Interleave the recompute kinds and the baseline; return samples in ms per kind."""
    from webapp.commissions import engine
    from webapp.commissions.ledger import PlanResolver, month_sales, sale_line
    from webapp.commissions.models import CommissionEntry
    from webapp.extensions import db
    from webapp.sales.credits import add_missing_primary_credits
    from webapp.sales.models import Sale

    agent_id = ids["agent_id"]
    samples: dict[str, list[float]] = {k: [] for k in (
        "create", "create_commit", "steady", "update", "update_commit", "baseline_sql", "baseline_engine",
        "baseline")}
    profiles = {}
    with app.app_context():
        # Pre-built lines for the engine-alone baseline (built once, outside any timing).
        lines = [sale_line(s, PlanResolver(agent_id))[0]
                 for s in month_sales(agent_id, MONTH, ("approved",))]
        db.session.remove()
        sum_sql = text("SELECT agent_id, sum(amount_cents) FROM sales WHERE agent_id = :agent "
                       "AND sold_on BETWEEN :first AND :last AND status = 'approved' GROUP BY agent_id")
        params = {"agent": agent_id, "first": MONTH, "last": MONTH.replace(day=30)}
        voided = False
        for repeat in range(repeats + 1):  # the first round warms up and is not recorded
            keep = repeat > 0
            # create: from an empty ledger month
            db.session.execute(delete(CommissionEntry).where(CommissionEntry.agent_id == agent_id))
            db.session.commit()
            db.session.remove()
            if profile and repeat == 1:
                profiler = cProfile.Profile()
                profiler.enable()
            ms, results = timed(recompute, agent_id)
            if profile and repeat == 1:
                profiler.disable()
                profiles["create"] = profiler
            commit_ms, _ = timed(db.session.commit)
            assert len(results) == len(lines) - (1 if voided else 0)
            db.session.remove()
            if keep:
                samples["create"].append(ms)
                samples["create_commit"].append(commit_ms)
            # steady: nothing changed
            ms, _ = timed(recompute, agent_id)
            assert not db.session.dirty and not db.session.new and not db.session.deleted
            db.session.rollback()
            db.session.remove()
            if keep:
                samples["steady"].append(ms)
            # update: the earliest sale flips, every later line moves bracket, updated in place
            voided = not voided
            db.session.execute(update(Sale).where(Sale.id == ids["earliest_sale_id"])
                               .values(status="voided" if voided else "approved"))
            db.session.commit()
            db.session.remove()
            before = dict(db.session.execute(select(CommissionEntry.sale_id, CommissionEntry.id)
                                             .where(CommissionEntry.agent_id == agent_id)).all())
            db.session.remove()
            if profile and repeat == 1:
                profiler = cProfile.Profile()
                profiler.enable()
            ms, _ = timed(recompute, agent_id)
            if profile and repeat == 1:
                profiler.disable()
                profiles["update"] = profiler
            commit_ms, _ = timed(db.session.commit)
            db.session.remove()
            after = dict(db.session.execute(select(CommissionEntry.sale_id, CommissionEntry.id)
                                            .where(CommissionEntry.agent_id == agent_id)).all())
            db.session.remove()
            # In place: every surviving line kept its id.
            assert all(after[sale] == entry for sale, entry in before.items() if sale in after)
            if keep:
                samples["update"].append(ms)
                samples["update_commit"].append(commit_ms)
            # baseline: raw SQL sum, then the engine alone on pre-built lines
            with db.engine.connect() as connection:
                sql_ms, _ = timed(lambda: connection.execute(sum_sql, params).all())
            engine_ms, _ = timed(engine.compute_month, lines)
            if keep:
                samples["baseline_sql"].append(sql_ms)
                samples["baseline_engine"].append(engine_ms)
                samples["baseline"].append(sql_ms + engine_ms)
        if voided:  # leave the month as it was built
            db.session.execute(update(Sale).where(Sale.id == ids["earliest_sale_id"]).values(status="approved"))
            db.session.commit()
            db.session.remove()
    return {"samples": samples, "profiles": profiles}


def summarise(samples: dict[str, list[float]]) -> dict:
    """Median, min, max and the ratio to the baseline's median, per kind."""
    base = statistics.median(samples["baseline"])
    return {name: {"median_ms": round(statistics.median(v), 2), "min_ms": round(min(v), 2),
                   "max_ms": round(max(v), 2), "ratio_to_baseline": round(statistics.median(v) / base, 2)}
            for name, v in samples.items()}


def print_profile(label: str, profiler: cProfile.Profile) -> None:
    """The top of a cProfile run, by cumulative time."""
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    print(f"--- profile: {label} ---")
    print(out.getvalue())


def run_backend(label: str, url: str, args) -> dict:
    """Build, fill and measure one database."""
    from webapp.extensions import db

    started = time.perf_counter()
    app = build_app(url)
    with app.app_context():
        ids = populate(args.sales)
        db.session.remove()
    setup_s = time.perf_counter() - started
    measured = measure(app, ids, args.repeats, args.profile)
    with app.app_context():
        db.engine.dispose()
    figures = summarise(measured["samples"])
    print(f"\n{label}: recompute_agent_month, {args.sales} approved sales, one agent-month "
          f"(median of {args.repeats}; setup {setup_s:.1f} s)")
    print(f"{'':<16}{'median ms':>10}{'min ms':>9}{'max ms':>9}{'x baseline':>12}")
    for name, fig in figures.items():
        print(f"{name:<16}{fig['median_ms']:>10.2f}{fig['min_ms']:>9.2f}{fig['max_ms']:>9.2f}"
              f"{fig['ratio_to_baseline']:>12.2f}")
    worst = max(figures[k]["median_ms"] for k in ("create", "steady", "update"))
    print(f"budget {BUDGET_MS:.0f} ms (worst recompute median {worst:.0f} ms): "
          f"{'met' if worst < BUDGET_MS else 'MISSED'}")
    for kind, profiler in measured["profiles"].items():
        print_profile(f"{label} {kind}", profiler)
    return {"figures": figures, "within_budget": worst < BUDGET_MS, "setup_seconds": round(setup_s, 1)}


def main() -> int:
    """Measure SQLite (and PostgreSQL when BENCH_DATABASE_URL is set); print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print cProfile of one create and one update")
    args = parser.parse_args()

    load_before = round(os.getloadavg()[0], 2)
    backends = {}
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as scratch:
        backends["sqlite"] = run_backend("SQLite", f"sqlite:///{Path(scratch) / 'bench.db'}", args)
    server = os.environ.get("BENCH_DATABASE_URL")
    if server:
        url, drop = scratch_database(server, f"ledger_bench_{os.getpid()}")
        try:
            backends["postgresql"] = run_backend("PostgreSQL", url, args)
        finally:
            drop()
    report = {
        "benchmark": "recompute_agent_month, one agent-month, marginal tiers with a category override",
        "sales": args.sales,
        "repeats": args.repeats,
        "budget_ms": BUDGET_MS,
        "within_budget": all(b["within_budget"] for b in backends.values()),
        "kinds": {
            "create": "first recompute: one entry inserted per sale (flush included)",
            "create_commit": "the commit after it",
            "steady": "recompute with nothing changed",
            "update": "recompute after the earliest sale flips voided/approved: every line updated in place",
            "update_commit": "the commit after it",
            "baseline_sql": "raw SELECT sum(amount_cents) ... GROUP BY over the same rows",
            "baseline_engine": "engine.compute_month alone on pre-built lines",
            "baseline": "baseline_sql + baseline_engine",
        },
        "backends": backends,
        "load_average_1m_before": load_before,
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}",
        "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"\nload average {load_before} -> {report['load_average_1m_after']} on {os.cpu_count()} CPUs")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if report["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
