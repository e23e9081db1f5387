"""Benchmark: a plan change for every agent, end to end through its background operation.

Run from the repository root: `.venv/bin/python bench/plan_change_job.py [--agents 5000 --sales 5000000]
[--workers 2]` (PostgreSQL: BENCH_DATABASE_URL, default the local server; the data set is built once
by bench/dataset.py with `flask demo generate` and reused; `redis-server` is started privately on a
free port).

What an admin does: a new version of each of the data set's plans (every rate half a point up),
effective on the first day of this month that has no version yet, saved as the plan page saves it
(`plan_versions.add_version`, then the commit). With more agents than OPERATION_INLINE_LIMIT the
request only records a background operation; `--workers` `python -m jobs worker` processes then
recompute every agent's month in committed batches (webapp/operations). Timed: the requests, and
from the first request to the last operation done. Checked: every operation done without errors,
every agent of every plan counted, and a sample of agents recomputed again in a rolled-back
transaction writes nothing (the ledger the jobs left is the engine's).

Baseline, in the same run: one SQL aggregate pass over this month's sales (GROUP BY agent), as P4's.
The data set keeps the new versions (it is rebuilt daily); a second run adds versions a day later.
Writes bench/results/plan_change_job_<agents>.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "plan-change-bench")

from sqlalchemy import func, select, text  # noqa: E402

from bench.common import bare_engine, free_day, machine, timed_ms, write_results  # noqa: E402
from bench.dataset import ensure_dataset, server_url  # noqa: E402
from bench.recompute_month import BASELINE_SQL  # noqa: E402 - P4's baseline, the same pass
from bench.statement_run import start_redis, start_worker, stop, wait_for_workers  # noqa: E402

SAMPLE = 20  # agents recomputed again afterwards, to check the jobs left the engine's ledger


def raised(rules):
    """The plan's rules with every rate half a point higher."""
    half = Decimal("0.5")
    return replace(rules, base_rate=None if rules.base_rate is None else rules.base_rate + half,
                   tiers=[(start, rate + half) for start, rate in rules.tiers],
                   category_rates={k: v + half for k, v in rules.category_rates.items()},
                   product_rates={k: v + half for k, v in rules.product_rates.items()})


def change_every_plan(today: date) -> list[int]:
    """A new version of every plan, committed one at a time as the admin's page does; the operations' ids."""
    from webapp.operations import services as operations
    from webapp.commissions import plan_versions, plans
    from webapp.commissions.models import CommissionPlan
    from webapp.extensions import db

    started = []
    for plan in db.session.scalars(select(CommissionPlan).order_by(CommissionPlan.id)).all():
        if not plan.versions:
            continue
        operations.forget_started()
        plan_versions.add_version(None, plan, raised(plans.current_rules(plan)), free_day(plan, today.replace(day=1), today))
        operation = operations.started()
        db.session.commit()
        if operation is not None:
            started.append(operation.id)
    return started


def wait_done(operation_ids: list[int], timeout: float) -> list:
    """Poll until every operation finished; returns them."""
    from webapp.extensions import db
    from webapp.operations.models import BackgroundOperation

    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()  # a fresh snapshot each look
        found = db.session.scalars(select(BackgroundOperation).where(BackgroundOperation.id.in_(operation_ids))).all()
        if all(operation.finished for operation in found):
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"operations not done after {timeout:.0f} s: {[(o.id, o.done, o.total) for o in found]}")
        time.sleep(0.2)


def sample_unchanged(agent_ids: list[int], month: date) -> int:
    """Recompute a sample of agents again in a rolled-back transaction; the entries it would change."""
    from webapp.commissions.ledger import lock_agents, recompute_agents_month
    from webapp.commissions.models import CommissionEntry
    from webapp.extensions import db

    def snapshot():
        return sorted(db.session.execute(select(CommissionEntry.id, CommissionEntry.amount_cents,
                                                CommissionEntry.derivation_digest)
                                         .where(CommissionEntry.agent_id.in_(agent_ids))).all())

    before = snapshot()
    lock_agents(agent_ids)
    recompute_agents_month(agent_ids, month)
    db.session.flush()
    after = snapshot()
    db.session.rollback()
    return len(set(before) ^ set(after))


def main() -> int:
    """Build or reuse the data set, start the workers, change every plan, wait, check, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--sales", type=int, default=5_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    url = ensure_dataset(server_url(), args.agents, args.sales)
    load_before = os.getloadavg()[0]
    scratch = Path(tempfile.mkdtemp(prefix="bench_plan_change_"))
    redis_process, redis_url = start_redis(scratch)
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "SECRET_KEY": "plan-change-bench",
           "FLASK_APP": "wsgi", "RATELIMIT_STORAGE_URI": "memory://"}
    workers = [start_worker(env, scratch / f"worker{n}.log") for n in range(args.workers)]
    try:
        wait_for_workers(redis_url, args.workers, workers)
        from webapp import create_app

        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": redis_url, "RATELIMIT_STORAGE_URI": "memory://"})
        bare = bare_engine(url)
        today = date.today()
        first = today.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)

        def baseline() -> list:
            """The one SQL aggregate pass over this month, on its own connection."""
            with bare.connect() as connection:
                return connection.execute(BASELINE_SQL, {"first": first, "last": last}).all()

        with app.app_context():
            from webapp.auth.models import User
            from webapp.extensions import db

            baseline_before = timed_ms(baseline)[0]
            started = time.perf_counter()
            request_ms, operation_ids = timed_ms(change_every_plan, today)
            operations = wait_done(operation_ids, args.timeout)
            end_to_end = time.perf_counter() - started
            baseline_after = timed_ms(baseline)[0]
            failed = [(o.id, o.status, o.error, o.errors) for o in operations if o.status != "done" or o.errors]
            assert not failed, f"operations failed: {failed}"
            agents = sum(o.total for o in operations)
            agent_ids = list(db.session.scalars(select(User.id).where(User.role == "agent").order_by(User.id)))
            sample = agent_ids[:: max(1, len(agent_ids) // SAMPLE)][:SAMPLE]
            changed = sample_unchanged(sample, first)
            assert changed == 0, f"recomputing {len(sample)} agents again changed {changed} entries"
            month_sales = int(db.session.scalar(select(func.count()).select_from(text("sales"))
                                                .where(text("sold_on BETWEEN :f AND :l"))
                                                .params(f=first, l=last)))
    finally:
        for worker in workers:
            stop(worker)
        stop(redis_process)
    base_ms = (baseline_before + baseline_after) / 2
    report = {
        "benchmark": "a plan change for every agent through its background operation, end to end",
        "data": {"agents": args.agents, "sales": args.sales, "month": f"{first}..{last}",
                 "sales_in_month": month_sales, "agents_recomputed": agents, "operations": len(operations),
                 "workers": args.workers},
        "figures": {"requests_ms": round(request_ms, 1), "end_to_end_s": round(end_to_end, 2),
                    "per_agent_ms": round(end_to_end * 1000 / max(agents, 1), 2),
                    "baseline_ms": round(base_ms, 2),
                    "ratio_to_baseline": round(end_to_end * 1000 / base_ms, 1)},
        "checked": {"operations_done_without_errors": True,
                    f"sample_of_{len(sample)}_agents_recomputed_again_changes": changed},
        "load_average_1m_before": round(load_before, 2),
        **machine(),
    }
    print(f"plan change for {agents:,} agents ({len(operations)} operations, {args.workers} workers): "
          f"requests {request_ms:.0f} ms, end to end {end_to_end:.1f} s "
          f"({end_to_end * 1000 / max(agents, 1):.1f} ms an agent); baseline {base_ms:.1f} ms; "
          f"load {load_before:.2f} -> {os.getloadavg()[0]:.2f}")
    write_results(f"plan_change_job_{args.agents}", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
