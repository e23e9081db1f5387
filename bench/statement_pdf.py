"""Benchmark: a statement's PDF through the app's path, next to a bare WeasyPrint render of the same HTML.

Run from the repository root: `.venv/bin/python bench/statement_pdf.py [--repeats N]`.

Two statements are measured: one that fills 1 page and one that fills 10 pages (the number of sale
lines for each is found first, by laying the document out). For each, in the same run and
interleaved (alternating which goes first, so a busy machine slows both alike):

- app: what the render job does, `statement_html(statement, for_pdf=True)` (Jinja) then
  `html_to_pdf(html)` (WeasyPrint with the app's static-only URL fetcher, fail_on_errors);
- bare: `weasyprint.HTML(string=html).write_pdf()` on the same HTML with WeasyPrint's default URL
  fetcher; the stylesheet link is rewritten from `app-static:/` to a file: URL of static/, so both
  renders load the same CSS and lay out the same pages (checked).

Prints medians and ratios and writes bench/results/statement_pdf.json. No database is needed: the
statement is built in memory from a snapshot, as the render job reads it.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import io
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "statement-pdf-bench")  # never generate instance/secret_key for a bench

import weasyprint  # noqa: E402
from pypdf import PdfReader  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "statement_pdf.json"
TARGET_PAGES = (1, 10)
PRODUCTS = [("MED-100", "Patient monitor"), ("FNB-044", "Walk-in cooler"), ("CON-512", "Scaffolding system"),
            ("OFF-075", "Print fleet contract"), ("TEC-101", "Server rack, configured")]
CUSTOMERS = ["Northwind Clinics", "Harbor Foods", "Summit Builders", "Bluebird Offices", "Riverside Hospital"]


def make_app():
    """An app with an in-memory database (nothing is read from it) and no Redis connection made."""
    import fakeredis

    from webapp import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_CLIENT": fakeredis.FakeRedis(),
                       "RATELIMIT_STORAGE_URI": "memory://"})


def make_statement(lines: int, seed: int = 20261126):
    """An issued period statement (not saved) with `lines` sale lines, two adjustments and a payout."""
    from webapp.statements.models import Statement

    rng = random.Random(seed)
    sale_lines = []
    for n in range(lines):
        sku, product = rng.choice(PRODUCTS)
        amount = rng.randint(50_000, 5_000_000)
        sale_lines.append({"entry_id": n + 1, "sale_id": 1000 + n, "date": f"2026-11-{1 + n % 15:02d}",
                           "product": product, "sku": sku, "customer": rng.choice(CUSTOMERS),
                           "quantity": rng.choice([1, 1, 2, 3]), "amount_cents": amount, "rate_units": 30000,
                           "commission_cents": (amount * 3 + 50) // 100})
    adjustments = [
        {"entry_id": 90001, "kind": "adjustment", "date": "2026-11-04", "sale_id": 812,
         "sale_date": "2026-10-28", "product": "Patient monitor",
         "reason": "Late approval of a sale dated 2026-10-28", "late_approval": True, "amount_cents": 37500},
        {"entry_id": 90002, "kind": "manual", "date": "2026-11-09", "sale_id": None, "sale_date": None,
         "product": None, "reason": "Quarterly bonus correction", "late_approval": False,
         "amount_cents": -12000},
    ]
    payouts = [{"id": 1, "date": "2026-11-10", "reference": "Bank transfer 4411", "advance": False,
                "amount_cents": 150000}]
    earned = sum(line["commission_cents"] for line in sale_lines)
    adjusted = sum(item["amount_cents"] for item in adjustments)
    totals = {"volume": sum(line["amount_cents"] for line in sale_lines), "earned": earned,
              "adjustments": adjusted, "total": earned + adjusted, "opening": 250000, "payouts": 150000,
              "closing": 250000 + earned + adjusted - 150000}
    snapshot = {"company": "Sales Tracking", "currency": "USD",
                "agent": {"id": 7, "name": "Alice Chen", "email": "alice.agent@demo.example"},
                "kind": "period", "start": "2026-11-01", "end": "2026-11-15",
                "period_label": "Nov 1–15, 2026",
                "lines": sale_lines, "adjustments": adjustments, "payouts": payouts, "totals": totals,
                "message": None}
    return Statement(id=1, number=1042, kind="period", start_date=datetime.date(2026, 11, 1),
                     end_date=datetime.date(2026, 11, 15), snapshot=snapshot, status="pending",
                     created_at=datetime.datetime(2026, 11, 18, 8, 0, tzinfo=datetime.timezone.utc))


def app_render(statement) -> bytes:
    """The render job's path: the statement's print HTML, then html_to_pdf."""
    from webapp.statements.pdf import html_to_pdf
    from webapp.statements.services import statement_html

    return html_to_pdf(statement_html(statement, for_pdf=True))


def bare_html(statement) -> str:
    """The same HTML with its stylesheet linked as a file: URL, for WeasyPrint's default fetcher."""
    from webapp.statements.pdf import STATIC_ROOT, STATIC_SCHEME
    from webapp.statements.services import statement_html

    return statement_html(statement, for_pdf=True).replace(STATIC_SCHEME + "/", STATIC_ROOT.as_uri() + "/")


def bare_render(html: str) -> bytes:
    """WeasyPrint alone, default URL fetcher."""
    return weasyprint.HTML(string=html).write_pdf()


def pages(data: bytes) -> int:
    """Pages of a PDF."""
    return len(PdfReader(io.BytesIO(data)).pages)


def page_count(lines: int) -> int:
    """Pages the statement with `lines` sale lines lays out to (layout only, no PDF written)."""
    from webapp.statements.pdf import STATIC_SCHEME, StaticOnlyFetcher
    from webapp.statements.services import statement_html

    html = statement_html(make_statement(lines), for_pdf=True)
    document = weasyprint.HTML(string=html, base_url=STATIC_SCHEME + "/",
                               url_fetcher=StaticOnlyFetcher(fail_on_errors=True)).render()
    return len(document.pages)


def lines_for(target: int) -> int:
    """The most sale lines that still fit in `target` pages (found by bisection)."""
    low, high = 0, 8
    while page_count(high) <= target:
        low, high = high, high * 2
    while high - low > 1:  # page_count(low) <= target < page_count(high)
        middle = (low + high) // 2
        if page_count(middle) <= target:
            low = middle
        else:
            high = middle
    return low


def timed_ms(func, *args) -> float:
    """Wall time of one call, in milliseconds, starting from a collected heap."""
    gc.collect()
    start = time.perf_counter()
    func(*args)
    return (time.perf_counter() - start) * 1000


def main() -> int:
    """Find the line counts, time both renders interleaved, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed runs of each render (default 9)")
    args = parser.parse_args()

    app = make_app()
    load_before = round(os.getloadavg()[0], 2)
    figures = {}
    with app.app_context():
        cases = {}
        for target in TARGET_PAGES:
            statement = make_statement(lines_for(target))
            html = bare_html(statement)
            app_pages, bare_pages = pages(app_render(statement)), pages(bare_render(html))  # also the warm-up
            assert app_pages == bare_pages == target, (target, app_pages, bare_pages)
            cases[target] = (statement, html)
        runs = {target: {"app": [], "bare": []} for target in cases}
        for repeat in range(args.repeats):
            for target, (statement, html) in cases.items():
                order = [("app", app_render, statement), ("bare", bare_render, html)]
                for name, func, arg in (order if repeat % 2 == 0 else order[::-1]):
                    runs[target][name].append(timed_ms(func, arg))
        for target, samples in runs.items():
            app_median, bare_median = statistics.median(samples["app"]), statistics.median(samples["bare"])
            figures[f"{target}_page"] = {
                "pages": target,
                "sale_lines": len(cases[target][0].snapshot["lines"]),
                "app_median_ms": round(app_median, 1), "app_min_ms": round(min(samples["app"]), 1),
                "bare_median_ms": round(bare_median, 1), "bare_min_ms": round(min(samples["bare"]), 1),
                "ratio_app_to_bare": round(app_median / bare_median, 3),
                # The quietest run of each: less moved by other work on a shared machine.
                "ratio_min_app_to_bare": round(min(samples["app"]) / min(samples["bare"]), 3),
            }
    report = {
        "benchmark": "statement PDF: app path (statement_html + html_to_pdf) vs bare WeasyPrint, same HTML",
        "repeats": args.repeats,
        "figures": figures,
        "weasyprint": weasyprint.__version__,
        # Other work on the machine inflates medians; the ratio, measured interleaved, holds better.
        "load_average_1m_before": load_before,
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}",
        "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    print(f"statement PDF, median of {args.repeats} interleaved runs (WeasyPrint {weasyprint.__version__})")
    print(f"{'':<8}{'lines':>7}{'app ms':>10}{'bare ms':>10}{'app/bare':>10}{'min ratio':>11}")
    for name, fig in figures.items():
        print(f"{name:<8}{fig['sale_lines']:>7}{fig['app_median_ms']:>10.1f}{fig['bare_median_ms']:>10.1f}"
              f"{fig['ratio_app_to_bare']:>10.3f}{fig['ratio_min_app_to_bare']:>11.3f}")
    print(f"load average {load_before} -> {report['load_average_1m_after']} on {os.cpu_count()} CPUs")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
