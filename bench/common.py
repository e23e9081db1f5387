"""Helpers shared by the benchmarks over the generated data set (dashboards.py, recompute_month.py)."""

from __future__ import annotations

import datetime
import gc
import json
import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed_ms(func, *args):
    """Wall time of one call in milliseconds (heap collected first), and its result."""
    gc.collect()
    start = time.perf_counter()
    result = func(*args)
    return (time.perf_counter() - start) * 1000, result


def summarise(samples: list[float], baseline: list[float] | None) -> dict:
    """Median, min and max of the samples, and the ratio of medians to the baseline's."""
    median = statistics.median(samples)
    figures = {"median_ms": round(median, 2), "min_ms": round(min(samples), 2), "max_ms": round(max(samples), 2)}
    if baseline:
        figures["ratio_to_baseline"] = round(median / statistics.median(baseline), 2)
    return figures


def machine() -> dict:
    """What the figures were measured on, and when."""
    return {"load_average_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
            "python": platform.python_version(), "machine": f"{platform.system()} {platform.machine()}",
            "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def write_results(name: str, report: dict) -> None:
    """Write bench/results/<name>.json and say so."""
    path = ROOT / "bench" / "results" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


def free_day(plan, first: datetime.date, today: datetime.date) -> datetime.date:
    """The first day from `first` up to `today` on which the plan has no version yet (a plan change
    on the data set: the 1st of the month, a day later once a run kept its version there)."""
    taken = {version.effective_from for version in plan.versions}
    day = first
    while day in taken:
        day += datetime.timedelta(days=1)
    if day > today:
        raise SystemExit(f"{plan.name}: every day of this month up to today has a version; rebuild the data set")
    return day


def sized(name: str, agents: int, sales: int) -> str:
    """A results file name: `name` for the standard data set (500 agents, 1,000,000 sales), else
    with the size appended (the 5,000-agent figures sit beside the 500-agent ones)."""
    return name if (agents, sales) == (500, 1_000_000) else f"{name}_{agents}_{sales}"


def print_rows(rows: dict[str, dict]) -> None:
    """A table of median/min/max and ratio per measured thing."""
    print(f"{'':<34}{'median ms':>10}{'min ms':>9}{'max ms':>9}{'x baseline':>12}")
    for name, fig in rows.items():
        ratio = f"{fig['ratio_to_baseline']:>12.2f}" if "ratio_to_baseline" in fig else ""
        print(f"{name:<34}{fig['median_ms']:>10.2f}{fig['min_ms']:>9.2f}{fig['max_ms']:>9.2f}{ratio}")


def scratch_database(server_url: str, name: str):
    """Create (afresh) database `name` on the server of `server_url`; returns (its URL, a drop function)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from webapp.config import normalise_database_url

    base = make_url(normalise_database_url(server_url))
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        """Drop the scratch database (closing any connection left to it)."""
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def bare_engine(url: str):
    """An engine for a baseline's raw SQL, with the app's own session settings (no JIT: see
    webapp/__init__._configure_postgresql), so both sides run under the same planner."""
    from sqlalchemy import create_engine

    return create_engine(url, connect_args={"options": "-c jit=off"})
