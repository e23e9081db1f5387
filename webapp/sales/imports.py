"""CSV import of sales by a manager: stored upload, dry run, then an all-or-nothing import.

Every row goes through webapp.sales.services.create_sale, the same validation and the same
writes as a sale typed into the form, each inside its own savepoint so one bad row cannot abort
the transaction (the file itself is read by import_file.py). The dry run runs the whole import
exactly as the real one would and the caller rolls the transaction back, so the preview shows
what the import will do, row for row (a customer added on one line is found by the next, as it
will be for real). The real import commits only when no row failed.

The row key becomes the sale's idempotency key (as "csv-<key>") for the manager who imports, so
importing the same file twice creates nothing new: the rows already imported are skipped.

Uploads are kept between the preview and the confirmation in the database (ImportUpload), never
on a web host's disk, so the confirmation may reach another host than the upload did. The client
only ever holds the random token, and every lookup is scoped to the signed-in user, so one manager
cannot preview or confirm another's upload (it is simply not found). The confirmation locks the
upload's row and deletes it in the import's own transaction, so a double confirmation imports
once. An upload expires after a day (the hourly `import-upload-sweep` job deletes it); a user
keeps at most MAX_PENDING, a new upload dropping the oldest.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import PurePath

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import undefer

from webapp.auth import access
from webapp.auth.models import Role, User
from webapp.catalog.models import Customer, Product
from webapp.clock import now_utc
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.formtools import parse_iso_date
from webapp.money import MoneyError, parse_money
from webapp.sales import services as sales
from webapp.sales.import_file import IGNORED_COLUMNS, MAX_ROWS, ImportFileError, ImportRow, parse_file
from webapp.sales.models import ImportUpload

MAX_BYTES = 5 * 1024 * 1024
KEEP = timedelta(days=1)
# Uploads one user may leave waiting; a new one drops the oldest (an abandoned preview should not
# block the next upload, and a user rarely has more than a couple of tabs open).
MAX_PENDING = 10
KIND = "sales"
EXPIRED = "This upload has expired: files wait at most a day for their import. Upload the file again."
KEY_PREFIX = "csv-"
CONCURRENT = ("Another import with some of these keys ran at the same moment. "
              "Reload this page to see what is left to import.")
# The service's keys are 8-64 characters; with the prefix a row key needs 4-60.
_ROW_KEY = re.compile(r"^[A-Za-z0-9_-]{4,60}$")
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{16}$")
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


class UploadExpired(NotFound):
    """The upload is older than KEEP: it is not imported, and its owner is told to upload it again."""

    def __init__(self):
        super().__init__(EXPIRED)


@dataclass(frozen=True)
class Upload:
    """An uploaded file kept for its owner between preview and confirmation (a detached copy of
    its row, so it outlives the dry run's rollback)."""

    id: str
    row_id: int
    filename: str
    size: int
    sha256: str
    uploaded_at: datetime
    content: bytes = field(repr=False)

    def read(self) -> bytes:
        """The file's bytes."""
        return self.content


# ---- Stored uploads -----------------------------------------------------------------------


def _upload(row: ImportUpload) -> Upload:
    """The handle of a stored upload row."""
    return Upload(id=row.token, row_id=row.id, filename=row.filename, size=row.meta["size"],
                  sha256=row.meta["sha256"], uploaded_at=row.created_at, content=row.content)


def _drop_oldest(user: User) -> None:
    """Delete the user's oldest uploads so that, with the one being added, at most MAX_PENDING wait."""
    keep = select(ImportUpload.id).where(ImportUpload.owner_id == user.id).order_by(
        ImportUpload.created_at.desc(), ImportUpload.id.desc()).limit(MAX_PENDING - 1)
    db.session.execute(delete(ImportUpload).where(ImportUpload.owner_id == user.id,
                                                  ImportUpload.id.not_in(keep.scalar_subquery())))


def store_upload(user: User, stream, filename: str | None) -> Upload:
    """Read an uploaded file (at most MAX_BYTES) and keep it for this user; returns its handle."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"This file is larger than {MAX_BYTES // (1024 * 1024)} MB. "
                              f"Split it into smaller files of at most {MAX_ROWS:,} rows.", status=413)
    if not data.strip():
        raise ImportFileError("Choose a CSV file to upload; this one is empty.")
    _drop_oldest(user)
    name = PurePath(filename or "upload.csv").name[:120] or "upload.csv"
    row = ImportUpload(token=secrets.token_urlsafe(12), owner_id=user.id, kind=KIND, filename=name,
                       meta={"size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
                       content=data, created_at=now_utc())
    db.session.add(row)
    db.session.flush()
    return _upload(row)


def get_upload(user: User, upload_id: str, *, lock: bool = False) -> Upload:
    """This user's stored upload, else NotFound (another user's id is not found either);
    UploadExpired past KEEP. `lock` holds its row (FOR UPDATE) until the transaction ends."""
    if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
        raise NotFound()
    query = select(ImportUpload).options(undefer(ImportUpload.content)).where(
        ImportUpload.token == upload_id, ImportUpload.owner_id == user.id, ImportUpload.kind == KIND)
    if lock:
        # A second confirmation waits here for the first; it then finds the row gone (404).
        query = query.with_for_update()
    row = db.session.scalars(query).one_or_none()
    if row is None:
        raise NotFound()
    if row.created_at <= now_utc() - KEEP:
        raise UploadExpired()
    upload = _upload(row)
    # Content that no longer matches its hash is not what the manager previewed.
    if hashlib.sha256(upload.content).hexdigest() != upload.sha256:
        raise NotFound()
    return upload


def import_upload(actor: User, upload: Upload) -> ImportResult:
    """Import a stored upload (locked by get_upload) and, when no row failed, delete it in the same
    transaction; the caller commits only when `ok`, so a failed import keeps the upload."""
    result = run_import(actor, upload.read())
    if result.ok:
        db.session.execute(delete(ImportUpload).where(ImportUpload.id == upload.row_id))
    return result


def sweep_expired(now: datetime | None = None) -> int:
    """Delete the uploads older than KEEP, whoever owns them, and commit; how many went."""
    cutoff = (now or now_utc()) - KEEP
    deleted = db.session.execute(delete(ImportUpload).where(ImportUpload.created_at <= cutoff)).rowcount
    db.session.commit()
    return deleted


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
            field_name = outcome.error.field or ""
            result.errors.append(RowError(row.line, _COLUMN_OF.get(field_name, "row"),
                                          _CSV_MESSAGES.get(field_name, outcome.error.message)))
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
