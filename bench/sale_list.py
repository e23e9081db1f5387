"""Benchmark: the API's sale list (GET /api/v1/sales) at 1,000,000 sales / 500 agents, each sort.

Run from the repository root: `.venv/bin/python bench/sale_list.py [--repeats N] [--agents A --sales S]`
(PostgreSQL: BENCH_DATABASE_URL, default the local server; the data set is bench/dataset.py's,
shared with dashboards.py and recompute_month.py).

Each request goes through the whole application in-process (Flask test client: the bearer token,
scope and rate-limit checks, the services, the JSON), as the admin (every sale) and as a manager
of 25 agents, for a page of 50: the first page and one half-way through (by its cursor) of each
sort, an updated_since that matches nothing (an incremental sync with nothing new), and a page with
include_total. Two baselines, timed in the same loop: the bare keyset query returning the same 51
rows of the sales table (what the database must do at least), and the default order's first page
through the app (what a sort or a filter adds to a page). Prints milliseconds and ratios; writes
bench/results/sale_list.json.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "sale-list-bench")

from sqlalchemy import text  # noqa: E402

from bench.common import bare_engine, machine, print_rows, sized, summarise, timed_ms, write_results  # noqa: E402
from bench.dashboards import build_app  # noqa: E402
from bench.dataset import ensure_dataset, server_url  # noqa: E402

PAGE = 50
COLUMNS = {"-id": "id", "-sold_on": "sold_on", "-amount": "amount_cents"}


def tokens(app) -> dict[str, tuple[str, int | None]]:
    """A token each for the admin and a manager of the data set, and the manager's id."""
    from sqlalchemy import select

    from webapp.auth.models import Role, User
    from webapp.auth.tokens import create_token
    from webapp.extensions import db

    with app.app_context():
        admin = db.session.scalar(select(User).where(User.role == Role.ADMIN).order_by(User.id).limit(1))
        manager = db.session.scalar(select(User).where(User.role == Role.MANAGER).order_by(User.id).limit(1))
        made = {"admin": (create_token(admin, name="bench")[1], None),
                "manager": (create_token(manager, name="bench")[1], manager.id)}
        db.session.commit()
        return made


def middle_cursor(app, bare, sort: str) -> tuple[str, tuple]:
    """The cursor of the sale half-way through every sale in `sort` order, and its (value, id)."""
    from webapp.api.framework import encode_keyset

    column = COLUMNS[sort]
    with bare.connect() as connection:
        value, sale_id = connection.execute(text(
            f"SELECT {column}, id FROM sales ORDER BY {column} DESC, id DESC "
            "OFFSET (SELECT count(*) / 2 FROM sales) LIMIT 1")).one()
    with app.app_context():
        return encode_keyset(sort, value, sale_id), (value, sale_id)


def bare_page(bare, sort: str, after: tuple | None):
    """The baseline: the same keyset page straight from the sales table, rows fetched."""
    column = COLUMNS[sort]
    where = f"WHERE ({column}, id) < (:value, :id)" if after else ""
    params = {"value": after[0], "id": after[1]} if after else {}
    with bare.connect() as connection:
        return connection.execute(text(f"SELECT * FROM sales {where} ORDER BY {column} DESC, id DESC "
                                       f"LIMIT {PAGE + 1}"), params).all()


def get_ok(client, token: str, query: str) -> int:
    """GET /api/v1/sales?query with the token, insisting on 200; the number of items."""
    response = client.get(f"/api/v1/sales?limit={PAGE}&{query}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, f"{query}: {response.status_code} {response.get_data(as_text=True)[:200]}"
    return len(response.json["items"])


def main() -> int:
    """Build or reuse the data set, time each list request against its baselines, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    url = ensure_dataset(server_url(), args.agents, args.sales)
    app = build_app(url)
    app.config["API_RATE_LIMIT"] = "1000000 per minute"
    bare = bare_engine(url)
    client = app.test_client()
    made = tokens(app)
    cases = {}
    for role, (token, _) in made.items():
        for sort in COLUMNS:
            cursor, after = middle_cursor(app, bare, sort)
            cases[f"{role}, sort={sort}, first page"] = (
                lambda t=token, s=sort: get_ok(client, t, f"sort={s}"), lambda s=sort: bare_page(bare, s, None))
            cases[f"{role}, sort={sort}, half-way"] = (
                lambda t=token, s=sort, c=cursor: get_ok(client, t, f"sort={s}&cursor={c}"),
                lambda s=sort, a=after: bare_page(bare, s, a))
        cases[f"{role}, updated_since, nothing new"] = (
            lambda t=token: get_ok(client, t, "updated_since=2099-01-01T00:00:00Z"),
            lambda: bare_page(bare, "-id", None))
        cases[f"{role}, include_total"] = (lambda t=token: get_ok(client, t, "include_total=true"),
                                           lambda: bare_page(bare, "-id", None))
    default = {role: (lambda t=token: get_ok(client, t, "")) for role, (token, _) in made.items()}
    for app_call, sql_call in cases.values():  # warm-up: prepared plans, caches
        app_call(), sql_call()
    samples = {name: {"app": [], "sql": [], "default": []} for name in cases}
    for _ in range(args.repeats):
        for name, (app_call, sql_call) in cases.items():
            samples[name]["sql"].append(timed_ms(sql_call)[0])
            samples[name]["default"].append(timed_ms(default[name.split(",")[0]])[0])
            samples[name]["app"].append(timed_ms(app_call)[0])
    figures = {}
    for name, pair in samples.items():
        figures[name] = {**summarise(pair["app"], pair["sql"]),
                         "ratio_to_default_page": summarise(pair["app"], pair["default"])["ratio_to_baseline"]}
    print_rows(figures)
    for name, fig in figures.items():
        print(f"{name:<44} x default page {fig['ratio_to_default_page']:.2f}")
    write_results(sized("sale_list", args.agents, args.sales), {
        "benchmark": "GET /api/v1/sales through the whole app vs the bare keyset query and vs the default page",
        "data": {"agents": args.agents, "sales": args.sales, "page": PAGE, "repeats": args.repeats},
        "machine": machine(), "figures": figures})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
