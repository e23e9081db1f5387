"""Benchmark P2: the agent's totals fragment and the team dashboards at 1,000,000 sales / 500 agents.

Run from the repository root: `.venv/bin/python bench/dashboards.py [--repeats N] [--agents A --sales S]`
(PostgreSQL: BENCH_DATABASE_URL, default the local server; the data set is built once by
bench/dataset.py with `flask demo generate` and reused).

Each request goes through the whole application in-process (Flask test client: routing, session
and login, the services, the template), signed in as the user, and is timed next to the raw SQL
aggregate that yields the same numbers, run on the same database in the same loop:

- agent totals: GET /dashboard/totals (the panel htmx refreshes after each sale and every 30 s) for
  a rotating set of agents, against one SQL statement summing the same period and month volumes,
  commission, unpaid, paid and target (the pending estimate needs the engine and is not in SQL).
  Twice: as polled, with nothing changed since the last refresh (the process's copy,
  webapp/panel_cache.py), and right after a change (the agent's stamp bumped: computed afresh);
- team dashboard: GET /manage/team as a manager of 25 agents, and as the admin, who sees all 500,
  against one GROUP BY over the same agents' entries, sales, targets and payouts.

The figures the application shows are first checked against the raw SQL (same cents), so the two
sides compute the same thing. Also records the SQL statements each request issues. Prints
milliseconds and ratios; writes bench/results/dashboards.json.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import uuid
from datetime import date
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "dashboards-bench")

from sqlalchemy import event, text  # noqa: E402

from bench.common import bare_engine, machine, print_rows, sized, summarise, timed_ms, write_results  # noqa: E402
from bench.dataset import ensure_dataset, server_url  # noqa: E402

AGENT_SQL = text("""
SELECT
  (SELECT coalesce(sum(amount_cents), 0) FROM sales
    WHERE agent_id = :agent AND status = 'approved' AND sold_on BETWEEN :period_start AND :period_end),
  (SELECT coalesce(sum(amount_cents), 0) FROM sales
    WHERE agent_id = :agent AND status = 'approved' AND sold_on BETWEEN :month_start AND :month_end),
  (SELECT coalesce(sum(e.amount_cents), 0) FROM commission_entries e JOIN sales s ON s.id = e.sale_id
    WHERE e.agent_id = :agent AND s.agent_id = :agent AND e.kind <> 'manual'
      AND s.sold_on BETWEEN :period_start AND :period_end),
  (SELECT coalesce(sum(e.amount_cents), 0) FROM commission_entries e JOIN sales s ON s.id = e.sale_id
    WHERE e.agent_id = :agent AND s.agent_id = :agent AND e.kind <> 'manual'
      AND s.sold_on BETWEEN :month_start AND :month_end),
  (SELECT count(*) FROM sales
    WHERE agent_id = :agent AND status = 'pending' AND sold_on BETWEEN :month_start AND :month_end),
  (SELECT coalesce(sum(amount_cents), 0) FROM commission_entries WHERE agent_id = :agent)
    - (SELECT coalesce(sum(amount_cents), 0) FROM payouts WHERE agent_id = :agent),
  (SELECT coalesce(sum(amount_cents), 0) FROM payouts WHERE agent_id = :agent),
  (SELECT amount_cents FROM targets WHERE agent_id = :agent AND month = :month_start)
""")

# Per agent of the team: the period's line volume and commission, adjustments, pending count,
# month volume, target and unpaid balance - what the team dashboard's table shows.
TEAM_SQL = """
WITH team AS (SELECT id FROM users WHERE role = 'agent' {team_filter}),
period_sums AS (
  SELECT e.agent_id,
         sum(s.amount_cents) FILTER (WHERE e.kind = 'sale') AS volume,
         sum(e.amount_cents) FILTER (WHERE e.kind = 'sale') AS earned,
         sum(e.amount_cents) FILTER (WHERE e.kind <> 'sale') AS adjustments
  FROM commission_entries e LEFT JOIN sales s ON s.id = e.sale_id
  WHERE e.agent_id IN (SELECT id FROM team) AND e.period_id = :period GROUP BY e.agent_id),
pending AS (
  SELECT agent_id, count(*) AS n FROM sales
  WHERE agent_id IN (SELECT id FROM team) AND status = 'pending' AND sold_on BETWEEN :period_start AND :period_end
  GROUP BY agent_id),
month_volume AS (
  SELECT agent_id, sum(amount_cents) AS volume FROM sales
  WHERE agent_id IN (SELECT id FROM team) AND status = 'approved' AND sold_on BETWEEN :month_start AND :month_end
  GROUP BY agent_id),
earned AS (SELECT agent_id, sum(amount_cents) AS total FROM commission_entries
           WHERE agent_id IN (SELECT id FROM team) GROUP BY agent_id),
paid AS (SELECT agent_id, sum(amount_cents) AS total FROM payouts
         WHERE agent_id IN (SELECT id FROM team) GROUP BY agent_id)
SELECT team.id, coalesce(p.volume, 0), coalesce(p.earned, 0) + coalesce(p.adjustments, 0), coalesce(pd.n, 0),
       coalesce(m.volume, 0), t.amount_cents, coalesce(er.total, 0) - coalesce(pa.total, 0)
FROM team
LEFT JOIN period_sums p ON p.agent_id = team.id LEFT JOIN pending pd ON pd.agent_id = team.id
LEFT JOIN month_volume m ON m.agent_id = team.id LEFT JOIN earned er ON er.agent_id = team.id
LEFT JOIN paid pa ON pa.agent_id = team.id
LEFT JOIN targets t ON t.agent_id = team.id AND t.month = :month_start
"""


def build_app(url: str):
    """The application on the generated database (fakeredis: nothing is enqueued by a GET)."""
    import fakeredis

    from webapp import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_CLIENT": fakeredis.FakeRedis(),
                       "RATELIMIT_STORAGE_URI": "memory://"})


def sign_in(app, email: str):
    """A test client signed in as `email` through the real login form (CSRF token included)."""
    from webapp.demo import DEMO_PASSWORD

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 302, f"cannot sign in as {email}: {response.status_code}"
    return client


def get_ok(client, path: str) -> int:
    """GET a page, insisting on 200; returns its size in bytes."""
    response = client.get(path)
    assert response.status_code == 200, f"{path}: {response.status_code}"
    return len(response.data)


def changed_then_get(app, agent_id: int, client) -> int:
    """What a write to the agent's figures does to their panel's copies (a fresh stamp), then GET it."""
    from webapp import panel_writes

    app.extensions["redis"].set(f"{panel_writes.AGENT_KEY}{agent_id}", uuid.uuid4().hex)
    return get_ok(client, "/dashboard/totals")


def raw(url_engine, sql, params: dict) -> list:
    """Run the raw SQL aggregate on its own connection and fetch every row."""
    with url_engine.connect() as connection:
        return connection.execute(sql, params).all()


class QueryCounter:
    """Counts the SQL statements the application's engine runs."""

    def __init__(self, engine):
        """Listen on `engine`."""
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args) -> None:
        """One more statement."""
        self.count += 1

    def during(self, func, *args) -> int:
        """How many statements one call of func(*args) runs."""
        self.count = 0
        func(*args)
        return self.count


def context(app) -> dict:
    """Today's period and month, and the users the benchmark signs in as."""
    from sqlalchemy import select

    from webapp.auth.models import User
    from webapp.commissions.periods import current_period, month_bounds
    from webapp.extensions import db

    with app.app_context():
        period = current_period()
        month_start, month_end = month_bounds(date.today())
        agents = list(db.session.scalars(select(User).where(User.email.like("agent%@generated.example"))
                                         .order_by(User.id).limit(8)))
        admin = db.session.scalar(select(User.email).where(User.role == "admin").limit(1))
        db.session.commit()  # current_period may have created the period row
        return {"period_id": period.id, "period_start": period.start_date, "period_end": period.end_date,
                "month_start": month_start, "month_end": month_end,
                "agents": [(a.id, a.email) for a in agents], "manager": agents[0].manager.email,
                "manager_id": agents[0].manager_id, "admin": admin}


def check_same_numbers(app, engine, ctx: dict) -> dict:
    """The application's figures equal the raw SQL's, to the cent (else the comparison is void)."""
    from webapp.auth.models import User
    from webapp.extensions import db
    from webapp.manage.team import team_dashboard
    from webapp.sales.portal import agent_totals

    params = {k: ctx[k] for k in ("period_start", "period_end", "month_start", "month_end")}
    with app.app_context():
        agent_id = ctx["agents"][0][0]
        totals = agent_totals(agent_id)
        row = raw(engine, AGENT_SQL, {**params, "agent": agent_id})[0]
        shown = (totals.period_figures.volume, totals.month_figures.volume, totals.period_figures.commission,
                 totals.month_figures.commission, totals.month_figures.pending_count, totals.unpaid, totals.paid,
                 totals.target)
        assert tuple(row) == shown, f"agent totals differ: app {shown} vs SQL {tuple(row)}"
        manager = db.session.get(User, ctx["manager_id"])
        dash = team_dashboard(manager, db.session.get(__import__("webapp.commissions.models", fromlist=["Period"]).Period,
                                                      ctx["period_id"]))
        app_rows = {r.agent.id: (r.volume, r.commission, r.pending_count, r.month_volume, r.target, r.unpaid)
                    for r in dash.rows}
        sql_rows = {r[0]: tuple(r[1:]) for r in raw(engine, team_sql(ctx["manager_id"]),
                                                     {**params, "period": ctx["period_id"]})}
        assert app_rows == sql_rows, "team figures differ between the application and the SQL"
        db.session.rollback()
    return {"agent_totals": dict(zip(("period_volume", "month_volume", "period_commission", "month_commission",
                                      "month_pending_count", "unpaid", "paid", "target"), shown)),
            "team_agents_checked": len(app_rows), "team_commission_cents": sum(r[1] for r in app_rows.values())}


def team_sql(manager_id: int | None):
    """The team aggregate for one manager's agents, or for every agent (the admin's view)."""
    return text(TEAM_SQL.format(team_filter=f"AND manager_id = {int(manager_id)}" if manager_id else ""))


@contextmanager
def past_periods_closed(url_engine, today: date):
    """Close, for the run, every period that ended before today's grace time, as the statement runs
    of a real installation would have (the generator computes a year of ledger and closes nothing;
    closing changes no entry, and keeps each agent's total of the period as close_period does);
    reopened afterwards, so the data set stays as the others expect."""
    close = text("""UPDATE periods SET status = 'closed', totals_kept = true WHERE status = 'open' AND end_date <
                    :today - make_interval(hours => coalesce((SELECT grace_hours FROM settings LIMIT 1), 48)) RETURNING id""")
    keep = text("""INSERT INTO agent_period_totals (agent_id, period_id, amount_cents)
                   SELECT agent_id, period_id, sum(amount_cents) FROM commission_entries
                   WHERE period_id = ANY(:ids) GROUP BY agent_id, period_id""")
    with url_engine.begin() as connection:
        closed = [row[0] for row in connection.execute(close, {"today": today})]
        connection.execute(keep, {"ids": closed})
    with url_engine.connect() as connection:
        connection.execute(text("ANALYZE agent_period_totals"))
        connection.commit()
    try:
        yield len(closed)
    finally:
        with url_engine.begin() as connection:
            connection.execute(text("DELETE FROM agent_period_totals WHERE period_id = ANY(:ids)"), {"ids": closed})
            connection.execute(text("UPDATE periods SET status = 'open', totals_kept = false WHERE id = ANY(:ids)"),
                               {"ids": closed})


def with_past_periods_closed(description: str, repeats: int, run) -> int:
    """A benchmark's command line (--agents, --sales, --repeats), then `run(args, app, bare engine,
    periods closed)` on the data set with the past periods closed for the run (as here)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=repeats)
    args = parser.parse_args()

    url = ensure_dataset(server_url(), args.agents, args.sales)
    app = build_app(url)
    bare = bare_engine(url)
    with past_periods_closed(bare, date.today()) as closed:
        return run(args, app, bare, closed)


def main() -> int:
    """Build or reuse the data set, check the numbers agree, time each view against its SQL, report."""
    return with_past_periods_closed(__doc__.splitlines()[0], 30, _run)


def _run(args, app, bare, closed: int) -> int:
    """Time each case against its SQL with the past periods closed; report."""
    from webapp.extensions import db

    ctx = context(app)
    checked = check_same_numbers(app, bare, ctx)
    agents = [sign_in(app, email) for _, email in ctx["agents"]]
    manager, admin = sign_in(app, ctx["manager"]), sign_in(app, ctx["admin"])
    params = {k: ctx[k] for k in ("period_start", "period_end", "month_start", "month_end")}
    team_params = {**params, "period": ctx["period_id"]}
    agent_sql = (lambda n: raw(bare, AGENT_SQL, {**params, "agent": ctx["agents"][n % len(agents)][0]}))
    cases = {
        # The panel as it is polled: nothing changed since the last refresh (webapp/panel_cache.py).
        "agent totals fragment": (lambda n: get_ok(agents[n % len(agents)], "/dashboard/totals"), agent_sql),
        # Right after a write to the agent's figures: computed afresh (the agent's stamp bumped first).
        "agent totals fragment, after a change": (lambda n: changed_then_get(app, ctx["agents"][n % len(agents)][0],
                                                                             agents[n % len(agents)]), agent_sql),
        "team dashboard, manager (25)": (lambda n: get_ok(manager, "/manage/team"),
                                         lambda n: raw(bare, team_sql(ctx["manager_id"]), team_params)),
        "team dashboard, admin (all)": (lambda n: get_ok(admin, "/manage/team"),
                                        lambda n: raw(bare, team_sql(None), team_params)),
    }
    with app.app_context():
        counter = QueryCounter(db.engine)
    # Statements of a first request (the hot cache of plans, targets, SPIFFs and the period empty),
    # then of a warm one: the figure that counts, since the cache lives as long as the process.
    cold = {name: counter.during(app_call, 0) for name, (app_call, _) in cases.items()}
    samples = {name: {"app": [], "sql": []} for name in cases}
    for n in range(3):  # warm-up: caches, prepared plans, the template cache
        for app_call, sql_call in cases.values():
            app_call(n), sql_call(n)
    queries = {name: counter.during(app_call, 0) for name, (app_call, _) in cases.items()}
    for n in range(args.repeats):
        for name, (app_call, sql_call) in cases.items():
            samples[name]["sql"].append(timed_ms(sql_call, n)[0])
            samples[name]["app"].append(timed_ms(app_call, n)[0])
    figures = {}
    for name, pair in samples.items():
        figures[f"{name}: app"] = {**summarise(pair["app"], pair["sql"]), "sql_statements": queries[name],
                                     "sql_statements_cold": cold[name]}
        figures[f"{name}: raw SQL"] = summarise(pair["sql"], None)
    report = {
        "benchmark": "P2: agent totals fragment and team dashboards through the whole app vs the raw SQL aggregate",
        "data": {"agents": args.agents, "sales": args.sales, "period": f"{ctx['period_start']}..{ctx['period_end']}",
                 "periods_closed_for_the_run": closed},
        "repeats": args.repeats,
        "same_numbers_checked": checked,
        "figures": figures,
        **machine(),
    }
    print(f"P2 at {args.sales:,} sales / {args.agents} agents, median of {args.repeats} interleaved runs")
    print_rows(figures)
    for name, count in queries.items():
        print(f"{name}: {count} SQL statements per request ({cold[name]} on a process's first)")
    write_results(sized("dashboards", args.agents, args.sales), report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
