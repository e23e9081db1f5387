"""Benchmark: "pay all statements" of a closed period for every agent, against the same figures and
payouts in raw SQL.

Run from the repository root: `.venv/bin/python bench/pay_period.py [--agents 500 --sales 1000000]
[--repeats 5]` (under a minute once the data set exists; see bench/README.md).

On the generated data set (bench/dataset.py), with the periods past their grace time closed for the
run as on bench/dashboards.py, the admin pays the latest closed period for all agents. Each case runs
in a transaction that is rolled back, interleaved with its baseline:

- `plan`: period_payment_plan, what the confirmation page shows (each agent's closing balance, paid
  since, unpaid now and what the run pays);
- `pay, inline`: period_payments.pay_period with the page's digest, OPERATION_INLINE_LIMIT lifted so
  the request records every payout and its audit event itself;
- `pay, request starting the operation`: the same at the default limit: the request checks the plan
  and starts the background operation (nothing paid yet);
- `pay, one operation step`: one step of that operation (25 agents locked, due again, paid).

Baseline: one raw SQL statement computing every agent's amount from the same three sums and
inserting one payout per agent with something due (INSERT ... SELECT), rolled back. The amounts
the app pays are first checked equal, agent by agent, to the baseline's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "pay-period-bench")

from sqlalchemy import event, select, text  # noqa: E402

from bench.common import machine, print_rows, sized, summarise, timed_ms, write_results  # noqa: E402
from bench.dashboards import with_past_periods_closed  # noqa: E402

# Every agent's amount for the period ending :end (:through, the ids of the periods up to it), as
# period_payments defines it, inserted as payouts; returns (agent, cents) of each.
BASELINE_SQL = text("""
WITH entries AS (
    SELECT e.agent_id,
           sum(e.amount_cents) FILTER (WHERE e.period_id = ANY(:through)) AS by_end,
           sum(e.amount_cents) AS earned
    FROM commission_entries e JOIN users u ON u.id = e.agent_id AND u.role = 'agent'
    GROUP BY e.agent_id
), paid AS (
    SELECT agent_id,
           coalesce(sum(amount_cents) FILTER (WHERE paid_on <= :end), 0) AS by_end,
           coalesce(sum(amount_cents) FILTER (WHERE paid_on > :end), 0) AS after_end
    FROM payouts GROUP BY agent_id
), due AS (
    SELECT en.agent_id,
           greatest(0, least(en.by_end - coalesce(pa.by_end, 0) - coalesce(pa.after_end, 0),
                             en.earned - coalesce(pa.by_end, 0) - coalesce(pa.after_end, 0))) AS cents
    FROM entries en LEFT JOIN paid pa ON pa.agent_id = en.agent_id
    WHERE en.by_end - coalesce(pa.by_end, 0) > 0
)
INSERT INTO payouts (agent_id, amount_cents, paid_on, reference, advance, created_by_id)
SELECT agent_id, cents, CURRENT_DATE, 'baseline', false, NULL FROM due WHERE cents > 0
RETURNING agent_id, amount_cents
""")


def main() -> int:
    """Time each case against the raw SQL, interleaved, each rolled back; check the amounts; report."""
    return with_past_periods_closed(__doc__.splitlines()[0], 5, _run)


def _run(args, app, bare, closed: int) -> int:
    """The measurements, with the past periods closed."""
    from webapp.auth.models import User
    from webapp.commissions import period_payments
    from webapp.commissions.models import Period
    from webapp.extensions import db
    from webapp.operations import services as operations

    def baseline(period: Period) -> list:
        """The raw SQL's payouts, rolled back."""
        with bare.connect() as connection:
            through = list(connection.scalars(text("SELECT id FROM periods WHERE end_date <= :end"),
                                              {"end": period.end_date}))
            rows = connection.execute(BASELINE_SQL, {"end": period.end_date, "through": through}).all()
            connection.rollback()
        return rows

    with app.app_context():
        admin = db.session.scalar(select(User).where(User.role == "admin"))
        period = db.session.scalar(select(Period).where(Period.status == "closed").order_by(Period.end_date.desc()))
        if period is None:
            raise SystemExit("no closed period on the data set")

        def digest() -> str:
            """The confirmation page's digest (read, then rolled back: not timed)."""
            found = period_payments.plan_digest(period, period_payments.period_payment_plan(admin, period))
            db.session.rollback()
            return found

        def pay(limit: int) -> list:
            """pay_period as the confirmed page calls it, at this inline limit: [ms, (agent, cents) paid,
            whether an operation started]; rolled back."""
            app.config["OPERATION_INLINE_LIMIT"] = limit
            confirmed = digest()
            took, made = timed_ms(period_payments.pay_period, admin, period, confirmed)
            started = operations.started() is not None
            paid = sorted((p.agent_id, p.amount_cents) for p in made)  # read before the rollback
            db.session.rollback()
            return [took, paid, started]

        def step() -> float:
            """One step of a started operation, timed; rolled back."""
            app.config["OPERATION_INLINE_LIMIT"] = 25
            period_payments.pay_period(admin, period, digest())
            operation = operations.started()
            db.session.flush()
            took, _ = timed_ms(operations.KINDS[operation.kind].step, operation, operation.items[:operations.STEP])
            db.session.rollback()
            return took

        expected = sorted((agent_id, cents) for agent_id, cents in baseline(period))
        took, paid, _ = pay(10**9)
        assert paid == expected, f"the app pays {len(paid)} agents, the SQL {len(expected)}; amounts differ"
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731 - the statement text
        event.listen(db.engine, "before_cursor_execute", listener)
        pay(10**9)
        event.remove(db.engine, "before_cursor_execute", listener)

        samples: dict[str, list[float]] = {"plan": [], "pay, inline": [], "pay, request starting the operation": [],
                                           "pay, one operation step (25 agents)": [], "baseline": []}
        for _ in range(args.repeats):
            samples["baseline"].append(timed_ms(baseline, period)[0])
            samples["plan"].append(timed_ms(period_payments.period_payment_plan, admin, period)[0])
            db.session.rollback()
            samples["pay, inline"].append(pay(10**9)[0])
            took, made, started = pay(25)
            assert made == [] and started, "above the inline limit an operation pays"
            samples["pay, request starting the operation"].append(took)
            samples["pay, one operation step (25 agents)"].append(step())
        app.config["OPERATION_INLINE_LIMIT"] = 25
        span = f"{period.start_date}..{period.end_date}"

    figures = {name: summarise(values, samples["baseline"]) for name, values in samples.items()}
    report = {
        "benchmark": "paying a closed period's statements for every agent vs the same payouts in raw SQL",
        "data": {"agents": args.agents, "sales": args.sales, "period": span,
                 "agents_paid": len(expected), "total_paid_cents": sum(cents for _, cents in expected),
                 "periods_closed_for_the_run": closed},
        "repeats": args.repeats,
        "amounts_checked_against_the_sql": True,
        "statements_inline": len(statements),
        "figures": figures,
        **machine(),
    }
    print(f"Paying {span} for {len(expected)} agents "
          f"({args.agents} agents, {args.sales:,} sales), median of {args.repeats}")
    print_rows(figures)
    print(f"SQL statements, inline: {len(statements)}")
    write_results(sized("pay_period", args.agents, args.sales), report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
