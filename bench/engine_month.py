"""Benchmark: compute_month over one agent-month of 10,000 lines, against a bare Decimal loop.

Run from the repository root: `.venv/bin/python bench/engine_month.py [--lines N] [--repeats N]`.
Prints absolute times and the ratio to the baseline, and writes bench/results/engine_month.json.
The baseline is measured in the same run, interleaved with the engine, so a busy machine slows
both alike and the ratio stays meaningful where the absolute milliseconds do not.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from webapp.commissions.engine import Plan, SaleLine, compute_month, month_total  # noqa: E402

BUDGET_MS = 100.0
RESULTS = ROOT / "bench" / "results" / "engine_month.json"
RATE = Decimal("3")
CENT = Decimal("0.01")
# Brackets spread over the month's ~25M volume, so the month crosses all of them.
TIERS = (("0", "3"), ("1000000", "5"), ("5000000", "7"), ("15000000", "9"))
CATEGORY_RATES = {"technology": "8"}
PLANS = {
    "flat": Plan(base_rate=RATE),
    "marginal": Plan(tiers=TIERS, tier_mode="marginal", category_rates=CATEGORY_RATES),
    "retroactive": Plan(tiers=TIERS, tier_mode="retroactive", category_rates=CATEGORY_RATES),
}


def make_lines(count: int, plan: Plan, seed: int = 20261101) -> list[SaleLine]:
    """`count` lines spread over November 2026, amounts 1.00-5,000.00, in shuffled input order."""
    rnd = random.Random(seed)
    categories = ["office_supplies"] * 8 + ["technology", "medical"]
    lines = [
        SaleLine(
            sale_id,
            datetime.date(2026, 11, rnd.randint(1, 30)),
            Decimal(rnd.randint(100, 500_000)).scaleb(-2),
            f"SKU-{rnd.randint(1, 40)}",
            rnd.choice(categories),
            plan,
        )
        for sale_id in range(1, count + 1)
    ]
    rnd.shuffle(lines)  # the engine's sort is part of what it costs
    return lines


def baseline(lines: list[SaleLine]) -> Decimal:
    """The least any engine must do: each line's amount x rate / 100, rounded to the cent, summed."""
    total = Decimal(0)
    for line in lines:
        total += (Decimal(line.amount) * RATE / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    return total


def timed_ms(func, *args) -> float:
    """Wall time of one call, in milliseconds, starting from a collected heap."""
    # The GC stays on during the call (a request has it on), but the previous run's garbage
    # is collected first so one run does not pay for another.
    gc.collect()
    start = time.perf_counter()
    func(*args)
    return (time.perf_counter() - start) * 1000


def main() -> int:
    """Time every mode and the baseline, interleaved; print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    load_before = round(os.getloadavg()[0], 2)
    months = {mode: make_lines(args.lines, plan) for mode, plan in PLANS.items()}
    # Same lines, same answer: the flat engine must agree with the bare loop to the cent.
    assert month_total(compute_month(months["flat"])) == baseline(months["flat"])

    runs: dict[str, list[float]] = {name: [] for name in ["baseline", *months]}
    for _ in range(3):  # warm-up, not recorded
        baseline(months["flat"])
        for lines in months.values():
            compute_month(lines)
    for _ in range(args.repeats):
        runs["baseline"].append(timed_ms(baseline, months["flat"]))
        for mode, lines in months.items():
            runs[mode].append(timed_ms(compute_month, lines))

    base_median = statistics.median(runs["baseline"])
    figures = {}
    for name, samples in runs.items():
        median = statistics.median(samples)
        figures[name] = {
            "median_ms": round(median, 2),
            "min_ms": round(min(samples), 2),
            "max_ms": round(max(samples), 2),
            "ratio_to_baseline": round(median / base_median, 2),
        }
    report = {
        "benchmark": "compute_month, one agent-month",
        "lines": args.lines,
        "repeats": args.repeats,
        "budget_ms": BUDGET_MS,
        "within_budget": all(figures[mode]["median_ms"] < BUDGET_MS for mode in months),
        "baseline": "per line: Decimal(amount) * rate / 100, quantized half-up to the cent, summed",
        "figures": figures,
        # Other work on the machine inflates medians and maxima; the minimum is the quiet figure.
        "load_average_1m_before": load_before,
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}",
        "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    print(f"compute_month, {args.lines} lines, median of {args.repeats} interleaved runs")
    print(f"{'':<12}{'median ms':>10}{'min ms':>9}{'max ms':>9}{'x baseline':>12}")
    for name, fig in figures.items():
        print(
            f"{name:<12}{fig['median_ms']:>10.2f}{fig['min_ms']:>9.2f}{fig['max_ms']:>9.2f}"
            f"{fig['ratio_to_baseline']:>12.2f}"
        )
    print(f"budget {BUDGET_MS:.0f} ms (median): {'met' if report['within_budget'] else 'MISSED'}")
    print(f"load average {load_before} -> {report['load_average_1m_after']} on {os.cpu_count()} CPUs")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if report["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
