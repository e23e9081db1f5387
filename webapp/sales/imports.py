"""CSV import of sales by a manager: dry run, then an all-or-nothing import.

Every row goes through webapp.sales.services.create_sale, the same validation and the same
writes as a sale typed into the form, each inside its own savepoint so one bad row cannot abort
the transaction (the file itself is read by import_file.py). The dry run runs the whole import
exactly as the real one would and the caller rolls the transaction back, so the preview shows
what the import will do, row for row (a customer added on one line is found by the next, as it
will be for real). The real import commits only when no row failed.

The row key becomes the sale's idempotency key (as "csv-<key>") for the manager who imports, so
importing the same file twice creates nothing new: the rows already imported are skipped.

Uploads wait between the preview and the confirmation in the database (import_uploads.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapp.auth import access
from webapp.auth.models import Role, User
from webapp.catalog.models import Customer, Product
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.formtools import parse_iso_date
from webapp.money import MoneyError, parse_money
from webapp.sales import services as sales
from webapp.sales.import_file import IGNORED_COLUMNS, MAX_ROWS, ImportRow, parse_file  # noqa: F401  (MAX_ROWS: the limit routes show)

MAX_BYTES = 5 * 1024 * 1024
KEY_PREFIX = "csv-"
CONCURRENT = ("Another import with some of these keys ran at the same moment. "
              "Reload this page to see what is left to import.")
# The service's keys are 8-64 characters; with the prefix a row key needs 4-60.
_ROW_KEY = re.compile(r"^[A-Za-z0-9_-]{4,60}$")
_WHOLE = re.compile(r"^[0-9]{1,7}$")
# Which CSV column a service error's field is about, and the wording that fits a file.
_COLUMN_OF = {
    "idempotency_key": "key", "agent_id": "agent_email", "product_id": "sku", "customer_id": "customer",
    "customer_name": "customer", "customer_email": "customer", "quantity": "quantity",
    "unit_price": "unit_price", "sold_on": "date", "note": "note",
    "share": "co_agents", "co_agents": "co_agents",
    **{f"co_{kind}_{n}": "co_agents" for kind in ("agent", "share") for n in range(1, 5)},
}
_CO_AGENT = re.compile(r"^([^:;\s]+@[^:;\s]+):\s*([^:;]*)$")
CO_AGENTS_FORMAT = "Write co-agents as email:share pairs separated by semicolons, e.g. ben@example.com:40."
_CSV_MESSAGES = {
    "agent_id": "No active agent of your team has this email.",
    "product_id": "This agent cannot sell this product (it is archived or restricted to other agents).",
}


@dataclass(frozen=True)
class RowError:
    """A problem with one cell (or the whole row) of the file."""

    line: int
    column: str
    message: str


@dataclass
class RowOutcome:
    """What the import does with one row: create a sale, or skip it (already imported)."""

    line: int
    key: str
    agent_name: str
    sku: str
    customer: str
    new_customer: bool
    quantity: int
    amount_cents: int
    sold_on: date
    created: bool
    status: str
    sale_id: int | None = None
    split: str = ""  # the co-agents as written, when the sale is split


@dataclass
class ImportResult:
    """The outcome of a dry run or an import."""

    rows: list[RowOutcome] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    row_count: int = 0

    @property
    def ok(self) -> bool:
        """True when no row failed (the import may go ahead)."""
        return not self.errors

    @property
    def to_create(self) -> list[RowOutcome]:
        """Rows that make a new sale."""
        return [r for r in self.rows if r.created]

    @property
    def skipped(self) -> list[RowOutcome]:
        """Rows already imported earlier (same key, same importer)."""
        return [r for r in self.rows if not r.created]

    @property
    def volume_cents(self) -> int:
        """Total amount of the sales the import creates."""
        return sum(r.amount_cents for r in self.to_create)

    @property
    def error_lines(self) -> int:
        """How many rows have at least one error."""
        return len({e.line for e in self.errors})


# ---- Dry run and import -------------------------------------------------------------------


def _chunks(values: list[str], size: int = 500):
    """Slices of at most `size` (SQLite limits the parameters of one statement)."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


class _Lookups:
    """The file's agents, products and customers, each read in a few bulk queries."""

    def __init__(self, actor: User, rows: list[ImportRow]):
        """Read every agent, product and customer the rows name (agents only if `actor` manages them)."""
        emails = sorted({r.cells.get("agent_email", "").lower() for r in rows} - {""})
        skus = sorted({r.cells.get("sku", "").lower() for r in rows} - {""})
        names = sorted({r.cells.get("customer", "").lower() for r in rows} - {""})
        self.agents: dict[str, User] = {}
        for chunk in _chunks(emails):
            query = select(User).where(User.email.in_(chunk), User.role == Role.AGENT)
            for user in db.session.scalars(query):
                # Another team's agent looks exactly like an unknown email: no hint that it exists.
                if access.can_manage_agent(actor, user):
                    self.agents[user.email] = user
        self.products: dict[str, Product] = {}
        for chunk in _chunks(skus):
            self.products.update((p.sku.lower(), p) for p in db.session.scalars(
                select(Product).where(func.lower(Product.sku).in_(chunk))))
        # The objects are kept (not only ids): the session's identity map holds them weakly, and
        # the service finds each customer there again instead of querying.
        # Co-agents may be any active agent (a split sale often crosses teams), by email.
        co_emails = sorted({pair.split(":", 1)[0].strip().lower() for r in rows
                            for pair in r.cells.get("co_agents", "").split(";") if ":" in pair} - {""})
        self.co_agents: dict[str, User] = {}
        for chunk in _chunks(co_emails):
            self.co_agents.update((u.email.lower(), u) for u in access.active_agents_by_email(chunk))
        self.customers: dict[str, list[Customer]] = {}
        for chunk in _chunks(names):
            for customer in db.session.scalars(
                    select(Customer).where(func.lower(Customer.name).in_(chunk)).order_by(Customer.id)):
                self.customers.setdefault(customer.name.lower(), []).append(customer)


def _parse_row(row: ImportRow, width: int, lookups: _Lookups, seen_keys: dict[str, int],
               errors: list[RowError]):
    """The row as a service batch item (and its agent and product), or None after adding its errors."""
    if row.width != width:
        errors.append(RowError(row.line, "row", f"This line has {row.width} cells; the header has {width}."))
        return None
    cells, found = row.cells, []

    def bad(column: str, message: str) -> None:
        """Note a problem with one cell of this row."""
        found.append(RowError(row.line, column, message))

    key = _row_key(cells["key"], row.line, seen_keys, bad)
    agent = _named(cells["agent_email"], lookups.agents, bad, "agent_email", "Enter the agent's email.",
                   _CSV_MESSAGES["agent_id"])
    product = _named(cells["sku"], lookups.products, bad, "sku", "Enter the product's SKU.",
                     f"Unknown SKU {cells['sku']!r}.")
    existing = _existing_customers(cells["customer"], lookups, bad)
    quantity = _quantity(cells["quantity"], bad)
    unit_price = None
    try:
        unit_price = parse_money(cells["unit_price"], what="a unit price")
    except MoneyError as exc:
        bad("unit_price", str(exc))
    sold_on = parse_iso_date(cells["date"])
    if sold_on is None:
        bad("date", "Enter the date as YYYY-MM-DD.")
    co_agents = _co_agents(cells.get("co_agents", ""), lookups, bad)
    if found:
        errors.extend(found)
        return None
    data = sales.SaleInput(product_id=product.id, quantity=quantity, unit_price=unit_price, sold_on=sold_on,
                           customer_id=existing[0].id if existing else None,
                           new_customer_name=None if existing else cells["customer"],
                           note=cells["note"] or None, co_agents=co_agents)
    return sales.BatchItem(data=data, idempotency_key=KEY_PREFIX + key, agent_id=agent.id), agent, product


def _row_key(key: str, line: int, seen_keys: dict[str, int], bad: Callable[[str, str], None]) -> str:
    """The row's key, noted in `seen_keys`; a malformed key or one already used is a problem."""
    if not _ROW_KEY.match(key):
        bad("key", "Use 4 to 60 letters, digits, dashes or underscores.")
    elif key in seen_keys:
        bad("key", f"This key is also on line {seen_keys[key]}; each row needs its own key.")
    else:
        seen_keys[key] = line
    return key


def _named(text: str, known: dict, bad: Callable[[str, str], None], column: str, missing: str, unknown: str):
    """The agent or product a cell names (case-insensitive), or None after noting it empty or unknown."""
    if not text:
        bad(column, missing)
        return None
    found = known.get(text.lower())
    if found is None:
        bad(column, unknown)
    return found


def _existing_customers(name: str, lookups: _Lookups, bad: Callable[[str, str], None]) -> list[Customer]:
    """The customers already called `name`: none (a new one), or one; several is a problem."""
    if not name:
        bad("customer", "Enter the customer's name.")
        return []
    if len(name) > 120:
        bad("customer", "Keep the customer's name under 120 characters.")
        return []
    existing = lookups.customers.get(name.lower(), [])
    if len(existing) > 1:
        bad("customer", f"Several customers are called {name!r}; rename one of them first.")
    return existing


def _co_agents(text: str, lookups: _Lookups, bad: Callable[[str, str], None]) -> tuple:
    """The co_agents cell ("email:share;email:share", or empty) as the service's co-agent inputs.

    The service checks the shares and the agents themselves (not the sale's agent, not twice)."""
    pairs = [pair.strip() for pair in text.split(";") if pair.strip()]
    out = []
    for pair in pairs:
        match = _CO_AGENT.match(pair)
        if match is None:
            bad("co_agents", CO_AGENTS_FORMAT)
            return ()
        agent = lookups.co_agents.get(match[1].lower())
        if agent is None:
            bad("co_agents", f"No active agent has the email {match[1]}.")
            return ()
        out.append(sales.CoAgentInput(agent.id, match[2].strip() or None))
    return tuple(out)


def _quantity(text: str, bad: Callable[[str, str], None]) -> int | None:
    """A whole number from 1 to the service's maximum."""
    if not _WHOLE.match(text) or not 1 <= int(text) <= sales.MAX_QUANTITY:
        bad("quantity", f"Enter a whole number from 1 to {sales.MAX_QUANTITY:,}.")
        return None
    return int(text)


def run_import(actor: User, data: bytes) -> ImportResult:
    """Record every row through the sales service's batch entry point; the caller commits or not.

    The dry run is this followed by a rollback; the import proper commits only when `ok`.
    """
    rows, columns = parse_file(data)
    result = ImportResult(ignored_columns=[c for c in columns if c in IGNORED_COLUMNS], row_count=len(rows))
    lookups, seen_keys = _Lookups(actor, rows), {}
    parsed = []
    for row in rows:
        item = _parse_row(row, len(columns), lookups, seen_keys, result.errors)
        if item is not None:
            parsed.append((row, *item))
    try:
        outcomes = sales.create_sales(actor, [item for _, item, _, _ in parsed])
    except IntegrityError as exc:
        # Another import of this manager wrote some of the same keys (for other agents) at the same moment.
        raise ServiceError(CONCURRENT, status=409) from exc
    for (row, item, agent, product), outcome in zip(parsed, outcomes):
        if outcome.error is not None:
            # The service refuses every field it can at once (FieldErrors): each goes on the row.
            for error in getattr(outcome.error, "errors", [outcome.error]):
                field_name = error.field or ""
                result.errors.append(RowError(row.line, _COLUMN_OF.get(field_name, "row"),
                                              _CSV_MESSAGES.get(field_name, error.message)))
            continue
        sale = outcome.sale
        result.rows.append(RowOutcome(
            line=row.line, key=item.idempotency_key[len(KEY_PREFIX):], agent_name=agent.name, sku=product.sku,
            customer=row.cells["customer"], new_customer=outcome.created and item.data.customer_id is None,
            quantity=sale.quantity, amount_cents=sale.amount_cents, sold_on=sale.sold_on,
            created=outcome.created, status=sale.status, sale_id=None if outcome.created else sale.id,
            split=row.cells.get("co_agents", "")))
    # Errors in file order: the service's come after the parser's otherwise.
    result.errors.sort(key=lambda e: e.line)
    return result
