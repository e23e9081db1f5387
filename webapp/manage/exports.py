"""CSV exports for payroll: sales and ledger entries of a date range, streamed in batches.

Rows are fetched with keyset pagination (a fresh LIMIT query after the last key of the previous
batch), never with OFFSET and never all at once, so memory stays constant however long the range
is and no server-side cursor stays open between batches. Only plain column tuples are selected,
so the session's identity map does not grow either.

Text cells are neutralised against CSV injection (sales/csv_format.py). Money and numbers are
formatted by us (plain decimals, two places for money) and left alone, so a clawback stays the
number -300.00.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, or_, select, true
from sqlalchemy.orm import aliased

from webapp.auth import access
from webapp.auth.models import User
from webapp.catalog.models import Customer, Product
from webapp.commissions.models import CommissionEntry, Period
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.formtools import parse_iso_date
from webapp.money import from_cents, units_to_rate
from webapp.sales.csv_format import BOM, MAX_CO_AGENT_COLUMNS, SALES_COLUMNS, text_cell
from webapp.sales.models import Sale, SaleCredit, SaleStatus
from webapp.sales.portal import sale_commissions
from webapp.spiffs.models import Spiff, SpiffVersion

BATCH_SIZE = 500
# sale_amount to credited_amount say which credit of the sale an entry is for (COMMISSION_RULES.md
# section 8): the entry's agent is the holder, as primary or co-agent, with that share and credited
# amount. The last two name the SPIFF of a SPIFF reward (or its adjustment) and the version that
# paid it (section 10); empty on other rows. New columns go last: payroll sheets read by position.
LEDGER_COLUMNS = (
    "entry_id", "agent_email", "agent_name", "period_start", "period_end", "period_status", "kind",
    "sale_id", "sale_date", "product_sku", "amount", "rate_percent", "reason",
    "sale_amount", "holder_role", "share_percent", "credited_amount", "spiff", "spiff_version")
SALE_STATUSES = tuple(SaleStatus)


@dataclass(frozen=True)
class ExportRequest:
    """A validated export: the date range, and for sales an optional status."""

    start: date
    end: date
    status: str | None = None

    @property
    def slug(self) -> str:
        """The range as it appears in the file name."""
        return f"{self.start.isoformat()}_{self.end.isoformat()}"


def money_cell(cents: int | None) -> str:
    """Cents as a plain decimal with two places (1250.00, -300.00); empty for none."""
    return "" if cents is None else str(from_cents(cents))


def rate_cell(units: int | None) -> str:
    """A stored rate as a plain percentage (3, 2.125); empty for none."""
    return "" if units is None else str(units_to_rate(units))


def parse_request(start_text: str | None, end_text: str | None, status: str | None = None) -> ExportRequest:
    """Check the range (and status); errors name the field they concern."""
    start, end = parse_iso_date(start_text), parse_iso_date(end_text)
    if start is None:
        raise ServiceError("Enter the first day as YYYY-MM-DD.", "start")
    if end is None:
        raise ServiceError("Enter the last day as YYYY-MM-DD.", "end")
    if end < start:
        raise ServiceError("The last day cannot be before the first day.", "end")
    status = (status or "").strip() or None
    if status is not None and status not in SALE_STATUSES:
        raise ServiceError("Choose a status from the list.", "status")
    return ExportRequest(start=start, end=end, status=status)


def _in_team(agent, user: User):
    """SQL condition: the row's `agent` (an alias of User) is in the user's team; admins: any agent."""
    return access.agent_scope(user, agent.id)


def _after(columns, last: tuple | None):
    """Keyset condition: rows strictly after `last` in the order of `columns`."""
    if last is None:
        return true()
    first, second = columns
    return or_(first > last[0], and_(first == last[0], second > last[1]))


def _write(rows) -> str:
    """Rows as CSV text (RFC 4180 line endings)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def sales_csv(user: User, request: ExportRequest) -> Iterator[str]:
    """The sales dated in the range (the user's team; admins: all), oldest first, as CSV chunks."""
    agent, entered, decided = aliased(User), aliased(User), aliased(User)
    query = (
        select(Sale.id, Sale.sold_on, Sale.quantity, Sale.unit_price_cents, Sale.amount_cents, Sale.status,
               Sale.note, Sale.reason, Sale.decided_at, agent.email.label("agent_email"),
               agent.name.label("agent_name"), Product.sku, Product.name.label("product_name"),
               Customer.name.label("customer"), entered.email.label("entered_by"),
               decided.email.label("decided_by"))
        .join(agent, Sale.agent_id == agent.id)
        .join(Product, Sale.product_id == Product.id)
        .join(Customer, Sale.customer_id == Customer.id)
        .join(entered, Sale.entered_by_id == entered.id)
        .outerjoin(decided, Sale.decided_by_id == decided.id)
        .where(Sale.sold_on >= request.start, Sale.sold_on <= request.end, _in_team(agent, user))
    )
    if request.status:
        query = query.where(Sale.status == request.status)
    return _stream(query, (Sale.sold_on, Sale.id), lambda row: (row.sold_on, row.id), SALES_COLUMNS,
                   _sales_rows)


def _credit_cells(sale_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """The credit columns of each sale (primary share and credit, then each co-agent's email, share
    and credit, blank where there is none), read in one query for the batch."""
    credits: dict[int, list] = {}
    for row in db.session.execute(
            select(SaleCredit.sale_id, SaleCredit.position, SaleCredit.share_units, SaleCredit.credit_cents,
                   User.email).join(User, User.id == SaleCredit.agent_id)
            .where(SaleCredit.sale_id.in_(sale_ids)).order_by(SaleCredit.sale_id, SaleCredit.position)):
        credits.setdefault(row.sale_id, []).append(row)
    cells = {}
    for sale_id, rows in credits.items():
        primary, co_agents = rows[0], rows[1:]
        # The import's own notation, so an exported split sale imports as the same split.
        pairs = ";".join(f"{holder.email}:{rate_cell(holder.share_units)}" for holder in co_agents)
        found = [text_cell(pairs), rate_cell(primary.share_units), money_cell(primary.credit_cents)]
        for holder in co_agents:
            found += [text_cell(holder.email), rate_cell(holder.share_units), money_cell(holder.credit_cents)]
        cells[sale_id] = tuple(found + [""] * (3 * (MAX_CO_AGENT_COLUMNS - len(co_agents))))
    return cells


_NO_CREDITS = ("",) * (3 + 3 * MAX_CO_AGENT_COLUMNS)


def _sales_rows(batch) -> list[tuple]:
    """CSV rows for a batch of sales (their commission standing and credits are read in one query each)."""
    ids = [row.id for row in batch]
    commissions, credits = sale_commissions(ids), _credit_cells(ids)
    return [
        (text_cell(f"sale-{row.id}"), text_cell(row.agent_email), text_cell(row.sku), text_cell(row.customer),
         str(row.quantity), money_cell(row.unit_price_cents), row.sold_on.isoformat(), text_cell(row.note),
         str(row.id), text_cell(row.agent_name), text_cell(row.product_name), money_cell(row.amount_cents),
         row.status, money_cell(commissions.get(row.id, 0)), text_cell(row.entered_by),
         text_cell(row.decided_by), row.decided_at.isoformat() if row.decided_at else "",
         text_cell(row.reason)) + credits.get(row.id, _NO_CREDITS)
        for row in batch]


def ledger_csv(user: User, request: ExportRequest) -> Iterator[str]:
    """Ledger entries of the periods that start in the range (team-scoped), as CSV chunks.

    A period belongs to the range its first day falls in, so consecutive ranges never export an
    entry twice.
    """
    agent = aliased(User)
    query = (
        select(CommissionEntry.id, CommissionEntry.kind, CommissionEntry.sale_id,
               CommissionEntry.amount_cents, CommissionEntry.rate_units, CommissionEntry.reason, agent.email.label("agent_email"),
               agent.name.label("agent_name"), Period.start_date, Period.end_date, Period.status,
               Sale.sold_on, Product.sku, Sale.amount_cents.label("sale_amount_cents"), SaleCredit.position,
               SaleCredit.share_units, SaleCredit.credit_cents, Spiff.name.label("spiff_name"),
               SpiffVersion.version.label("spiff_version"))
        .join(agent, CommissionEntry.agent_id == agent.id)
        .join(Period, CommissionEntry.period_id == Period.id)
        .outerjoin(Sale, CommissionEntry.sale_id == Sale.id)
        .outerjoin(Product, Sale.product_id == Product.id)
        # The entry's own credit: its agent's share of the sale (none for a manual entry).
        .outerjoin(SaleCredit, (SaleCredit.sale_id == CommissionEntry.sale_id)
                   & (SaleCredit.agent_id == CommissionEntry.agent_id))
        .outerjoin(Spiff, CommissionEntry.spiff_id == Spiff.id)
        .outerjoin(SpiffVersion, CommissionEntry.spiff_version_id == SpiffVersion.id)
        .where(Period.start_date >= request.start, Period.start_date <= request.end, _in_team(agent, user))
    )
    return _stream(query, (Period.start_date, CommissionEntry.id), lambda row: (row.start_date, row.id),
                   LEDGER_COLUMNS, _ledger_rows)


def _ledger_rows(batch) -> list[tuple]:
    """CSV rows for a batch of ledger entries."""
    return [
        (str(row.id), text_cell(row.agent_email), text_cell(row.agent_name), row.start_date.isoformat(),
         row.end_date.isoformat(), row.status, row.kind, "" if row.sale_id is None else str(row.sale_id),
         row.sold_on.isoformat() if row.sold_on else "", text_cell(row.sku), money_cell(row.amount_cents),
         rate_cell(row.rate_units), text_cell(row.reason), money_cell(row.sale_amount_cents), _role(row.position),
         rate_cell(row.share_units), money_cell(row.credit_cents), text_cell(row.spiff_name),
         "" if row.spiff_version is None else str(row.spiff_version))
        for row in batch]


def _role(position: int | None) -> str:
    """The holder's role in the sale: primary (the agent it is recorded for) or co-agent."""
    if position is None:
        return ""
    return "primary" if position == 0 else "co-agent"


def _stream(query, order, key, header, to_rows) -> Iterator[str]:
    """Yield the header, then one CSV chunk per keyset batch of `query` ordered by `order`.

    `key(row)` gives the row's values of the `order` columns: where the next batch starts.
    """
    yield BOM + _write([header])
    last = None
    while True:
        batch = db.session.execute(query.where(_after(order, last)).order_by(*order).limit(BATCH_SIZE)).all()
        if not batch:
            return
        yield _write(to_rows(batch))
        last = key(batch[-1])
