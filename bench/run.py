"""Run every benchmark, one after the other, then print each result's ratios to its baseline.

`make bench` (or `.venv/bin/python bench/run.py [name ...]`). PostgreSQL comes from
BENCH_DATABASE_URL, default the local server (postgresql://postgres@127.0.0.1:5432/postgres); the
benchmarks create scratch databases there, plus `sales_tracking_bench` (the 1,000,000-sale data
set, built once with `flask demo generate`, about 2.5 minutes, and reused). Each script writes
bench/results/<name>.json. Takes about 12 minutes on a 2-CPU machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dataset import DEFAULT_SERVER  # noqa: E402

# Cheapest first, so a broken setup shows early; the data-set benchmarks share one build.
BENCHMARKS = ["engine_month", "ledger_month", "statement_pdf", "log_sale_http", "dashboards", "recompute_month",
              "sale_list", "pay_period", "statement_run", "webhooks"]


def ratios(node, path: str = "", inside: bool = False) -> list[tuple[str, float]]:
    """Every number under a key starting with 'ratio' in a result file, with where it sits."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else key
            is_ratio = inside or key.startswith("ratio")
            if is_ratio and isinstance(value, (int, float)) and not isinstance(value, bool):
                found.append((where, value))
            else:
                found.extend(ratios(value, where, is_ratio))
    return found


def main() -> int:
    """Run the named benchmarks (default all); exit non-zero if any failed."""
    names = sys.argv[1:] or BENCHMARKS
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    env = {**os.environ, "BENCH_DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER)}
    failed = []
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py")], cwd=ROOT, env=env)
        print(f"=== {name}: {'ok' if result.returncode == 0 else 'FAILED'} in {time.perf_counter() - started:.0f} s",
              flush=True)
        if result.returncode != 0:
            failed.append(name)
    print("\nRatios to each benchmark's own baseline (same run):")
    for name in names:
        path = ROOT / "bench" / "results" / f"{name}.json"
        if path.exists() and name not in failed:
            for where, value in ratios(json.loads(path.read_text(encoding="utf-8"))):
                print(f"  {name}: {where} = {value}")
    if failed:
        print(f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
