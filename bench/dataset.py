"""The generated benchmark database (500 agents, 1,000,000 sales by default), built once and reused.

`ensure_dataset(server_url, agents, sales)` returns the URL of database `sales_tracking_bench` on
that PostgreSQL server, holding exactly what `flask demo generate --agents A --sales S` makes: it
is reused when it already holds that many generated agents and sales and was generated today (the
data is laid out around "today"), and otherwise dropped and built again with the migrations and
the generator (about 2.5 minutes for a million sales on a 2-CPU machine). Only that database is
ever dropped; the database named in the server URL is used to connect, nothing else.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "sales_tracking_bench"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    """The PostgreSQL server to benchmark on: BENCH_DATABASE_URL, else the local one."""
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER)


def database_url(server: str, name: str = DATABASE) -> str:
    """The psycopg URL of database `name` on the server of `server`."""
    return make_url(server).set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)


def _holds(url: str, agents: int, sales: int) -> bool:
    """True when the database holds exactly this generated data set, generated today."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.execute(text(
                "SELECT (SELECT count(*) FROM users WHERE role = 'agent' AND email LIKE '%@generated.example'),"
                " (SELECT count(*) FROM sales WHERE idempotency_key LIKE 'gen-%'),"
                " (SELECT max(sold_on) FROM sales WHERE idempotency_key LIKE 'gen-%'),"
                # The ledger is built agent by agent, in id order, after the sales: the last agent's
                # entries say the build finished (an interrupted one is built again).
                " EXISTS (SELECT 1 FROM commission_entries WHERE agent_id ="
                "  (SELECT max(id) FROM users WHERE role = 'agent' AND email LIKE '%@generated.example'))")).one()
    except Exception:  # noqa: BLE001 - missing, empty or half-built: build it again
        return False
    finally:
        engine.dispose()
    return found[0] == agents and found[1] == sales and found[2] == datetime.date.today() and found[3]


def _recreate(server: str, name: str) -> None:
    """Drop and create the benchmark database (autocommit: CREATE DATABASE cannot run in a transaction)."""
    engine = create_engine(database_url(server, make_url(server).database or "postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def _flask(url: str, *args: str) -> None:
    """Run a `flask` command of the project against the benchmark database, showing its output."""
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi", "SECRET_KEY": "bench-dataset",
           "RATELIMIT_STORAGE_URI": "memory://"}
    subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, check=True)


def dataset_name(agents: int, sales: int) -> str:
    """The database of a data set: DATABASE for the standard size, a name of its own for another
    (so the 5,000-agent set does not replace the 500-agent one)."""
    return DATABASE if (agents, sales) == (500, 1_000_000) else f"{DATABASE}_{agents}_{sales}"


def ensure_dataset(server: str, agents: int = 500, sales: int = 1_000_000) -> str:
    """The URL of a database holding the generated data set, building it when needed."""
    name = dataset_name(agents, sales)
    url = database_url(server, name)
    if _holds(url, agents, sales):
        print(f"Reusing {name}: {agents} agents, {sales:,} sales.", flush=True)
        _flask(url, "db", "upgrade")  # a migration since the build (an index) applies to the data too
        return url
    print(f"Building {name}: {agents} agents, {sales:,} sales (flask demo generate) ...", flush=True)
    started = time.perf_counter()
    _recreate(server, name)
    _flask(url, "db", "upgrade")
    _flask(url, "demo", "generate", "--agents", str(agents), "--sales", str(sales))
    print(f"Built in {time.perf_counter() - started:.0f} s.", flush=True)
    return url
