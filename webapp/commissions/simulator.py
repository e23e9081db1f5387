"""The plan simulator: what a plan would pay on a list of sales typed or pasted as CSV.

Writes nothing at all: it parses the CSV, groups the lines by calendar month (tier volume is per
calendar month, COMMISSION_RULES.md section 2) and runs each month through the engine as if the
lines were one agent's approved sales. The three plan features run as in the ledger: a line may be a
split sale (`share`: the agent's share as its primary agent, section 8), a monthly target resolves
attainment brackets (section 9), and the SPIFFs in force may be included (section 10; only those
open to everyone, since the simulated agent has no team).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from webapp.commissions import engine
from webapp.commissions.engine_explain import explain
from webapp.commissions.periods import month_bounds
from webapp.commissions.plans import PlanRules, engine_plan, get_version_by_id, validate_rules
from webapp.commissions.spiff_month import month_spiffs
from webapp.errors import ServiceError
from webapp.formtools import parse_iso_date
from webapp.money import MoneyError, parse_money

HEADER = ("date", "amount", "sku", "category")
# Optional columns after the four, in any order: units sold (SPIFFs per unit) and the agent's share.
OPTIONAL = ("quantity", "share")
MAX_ROWS = 5000
MAX_QUANTITY = 1_000_000  # as the sale form (webapp.sales.checks, which may not be imported from here)
MAX_BYTES = 1024 * 1024
# A pasted file with many mistakes is usually one mistake repeated; a few lines say enough.
MAX_REPORTED_PROBLEMS = 5
CSV_FIELD = "sales_csv"


@dataclass(frozen=True)
class SimulatedSale:
    """One CSV line as the engine sees it; `line` is its line number in the pasted text."""

    line: int
    date: date
    amount: Decimal
    sku: str | None
    category: str | None
    quantity: int = 1
    share: Decimal | None = None  # the agent's percent of a split sale (None: not split)

    @property
    def shares(self) -> tuple[Decimal, ...]:
        """The engine's shares: the agent (primary) first, the rest to one co-agent."""
        return () if self.share is None else (self.share, Decimal(100) - self.share)


@dataclass(frozen=True)
class SimulatedLine:
    """A sale and what it earns: the agent's credited amount, commission and SPIFF rewards."""

    sale: SimulatedSale
    commission: Decimal
    rate: Decimal
    source: str
    credited: Decimal = Decimal("0.00")
    spiffs: Decimal = Decimal("0.00")
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class SimulatedMonth:
    """One calendar month's lines in allocation order (date, then line number), with totals."""

    month: date
    lines: list[SimulatedLine]
    volume: Decimal
    commission: Decimal
    spiffs: Decimal = Decimal("0.00")
    attainment: Decimal | None = None  # percent of the target reached, rounded down (None: no target)


@dataclass(frozen=True)
class Simulation:
    """Every month of the simulation and the grand totals."""

    months: list[SimulatedMonth]
    volume: Decimal
    commission: Decimal
    spiffs: Decimal = Decimal("0.00")
    target: Decimal | None = None

    @property
    def split(self) -> bool:
        """Whether any line is a split sale (the page then shows credited amounts)."""
        return any(line.sale.share is not None for month in self.months for line in month.lines)

    @property
    def count(self) -> int:
        """How many sale lines were simulated."""
        return sum(len(month.lines) for month in self.months)


def plan_for_simulation(version_id: int | None, rules: PlanRules | None) -> engine.Plan:
    """The engine plan to simulate: a stored version's, or typed rules checked like a new plan's."""
    if version_id is not None:
        return engine_plan(get_version_by_id(version_id))
    if rules is None:
        raise ServiceError("Choose a plan version or type the rules to simulate.", "version_id")
    return validate_rules(rules)


def _csv_error(problems: list[str]) -> ServiceError:
    """One field error listing the first few problems of a pasted CSV."""
    shown = problems[:MAX_REPORTED_PROBLEMS]
    more = len(problems) - len(shown)
    tail = f" …and {more} more line{'s' if more != 1 else ''} with problems." if more > 0 else ""
    return ServiceError(" ".join(shown) + tail, CSV_FIELD)


def parse_sales_csv(text: str | None) -> list[SimulatedSale]:
    """Parse pasted sales (header date,amount,sku,category); ServiceError names the bad lines."""
    text = (text or "").lstrip("\ufeff")  # spreadsheets save UTF-8 with a byte-order mark
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise ServiceError("The sales CSV is larger than 1 MB; simulate fewer lines at a time.", CSV_FIELD)
    reader = csv.reader(io.StringIO(text, newline=""))
    numbered = []
    try:
        for row in reader:
            # reader.line_num counts physical lines, so a message points where an editor does.
            if any(cell.strip() for cell in row):
                numbered.append((reader.line_num, row))
    except csv.Error as exc:
        raise ServiceError(f"Line {reader.line_num}: this is not valid CSV ({exc}).", CSV_FIELD) from None
    if not numbered:
        raise ServiceError("Paste the sales as CSV, starting with the line date,amount,sku,category.",
                           CSV_FIELD)
    header_line, header = numbered[0]
    columns = tuple(cell.strip().lower() for cell in header)
    extra = columns[len(HEADER):]
    if columns[:len(HEADER)] != HEADER or any(c not in OPTIONAL for c in extra) or len(set(extra)) != len(extra):
        raise ServiceError(
            f"Line {header_line}: the first line must be the header date,amount,sku,category "
            f"(optionally followed by quantity and/or share) (got {','.join(header)[:80]!r}).", CSV_FIELD)
    body = numbered[1:]
    if not body:
        raise ServiceError("The CSV has a header but no sales.", CSV_FIELD)
    if len(body) > MAX_ROWS:
        raise ServiceError(f"The CSV has {len(body):,} sales; simulate at most {MAX_ROWS:,} at a time.",
                           CSV_FIELD)
    sales, problems = [], []
    for number, row in body:
        try:
            sales.append(_sale(number, row, columns))
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise _csv_error(problems)
    return sales


def _sale(number: int, row: list[str], columns: tuple[str, ...] = HEADER) -> SimulatedSale:
    """One CSV row as a sale; ValueError with a message naming the line."""
    if len(row) != len(columns):
        raise ValueError(f"Line {number}: expected {len(columns)} values ({','.join(columns)}), got {len(row)}.")
    cells = dict(zip(columns, (cell.strip() for cell in row)))
    raw_date, raw_amount, sku, category = (cells[c] for c in HEADER)
    day = parse_iso_date(raw_date)
    if day is None:
        raise ValueError(f"Line {number}: the date {raw_date[:40]!r} is not a date like 2026-11-02.")
    try:
        # Zero is allowed: the engine handles it, and a preview should not be stricter than it.
        amount = parse_money(raw_amount, allow_zero=True)
    except MoneyError as exc:
        raise ValueError(f"Line {number}: the amount {raw_amount[:40]!r} is not valid: {exc}") from None
    return SimulatedSale(number, day, amount, sku or None, category or None,
                         _quantity(number, cells.get("quantity", "")), _share(number, cells.get("share", "")))


def _quantity(number: int, text: str) -> int:
    """A whole number of units (empty: 1)."""
    if not text:
        return 1
    if not text.isdigit() or not 1 <= int(text) <= MAX_QUANTITY:
        raise ValueError(f"Line {number}: the quantity {text[:20]!r} is not a whole number from 1 to {MAX_QUANTITY:,}.")
    return int(text)


def _share(number: int, text: str) -> Decimal | None:
    """The agent's share of a split sale (empty or 100: not split), checked by the engine's rule."""
    if not text or text.rstrip("%").strip() in ("100", "100.0", "100.00"):
        return None
    try:
        share = Decimal(text.rstrip("%").strip())
        engine.normalise_shares((share, Decimal(100) - share))
    except (ArithmeticError, engine.EngineError):
        raise ValueError(f"Line {number}: the share {text[:20]!r} must be a percent above 0 and below 100 "
                         "with at most four decimals.") from None
    return share


def simulate_sales(plan: engine.Plan, sales: list[SimulatedSale], *, target: Decimal | None = None,
                   include_spiffs: bool = False) -> Simulation:
    """Run the sales through the engine, one calendar month at a time, as one agent's sales.

    `target`: the agent's target in every month; `include_spiffs`: the stored SPIFFs in force."""
    by_month: dict[date, list[SimulatedSale]] = {}
    for sale in sales:
        by_month.setdefault(sale.date.replace(day=1), []).append(sale)
    months = []
    for month in sorted(by_month):
        month_sales = {sale.line: sale for sale in by_month[month]}
        spiffs = month_spiffs(*month_bounds(month)).spiffs if include_spiffs else ()
        # The line number stands in for the sale id, so "date, then id" is "date, then line".
        results = engine.compute_month(
            (engine.SaleLine(id=sale.line, date=sale.date, amount=sale.amount, sku=sale.sku, category=sale.category,
                             plan=plan, quantity=sale.quantity, shares=sale.shares)
             for sale in month_sales.values()), target=target, spiffs=spiffs)
        lines = [SimulatedLine(month_sales[line], result.commission, result.rate, result.source, result.credited,
                               sum((r.reward for r in result.spiffs), Decimal("0.00")), tuple(explain(result)))
                 for line, result in results.items()]
        volume = sum((line.credited for line in lines), Decimal("0.00"))
        months.append(SimulatedMonth(month, lines, volume, engine.month_total(results), engine.spiff_total(results),
                                     engine.attainment_percent(volume, target) if target is not None else None))
    return Simulation(months, sum((m.volume for m in months), Decimal("0.00")),
                      sum((m.commission for m in months), Decimal("0.00")),
                      sum((m.spiffs for m in months), Decimal("0.00")), target)
