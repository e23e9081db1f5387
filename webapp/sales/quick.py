"""Logging a sale in one statement: the common case of the dashboard's form.

An agent's own sale to an existing customer, unsplit, waiting for approval (the setting), on
PostgreSQL: the checks (a sellable product, a date outside the closed periods, a price and amount in
range) and the writes (the sale, its primary credit and its audit event, the agent's row locked as every sale
change does) are one INSERT ... ON CONFLICT with CTEs. Whatever that statement does not write (a
check failed, the key was used already) leaves the full path (services.create_sale) to run in the
same transaction, so every refusal reads exactly as before and a repeated key finds its sale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import text

from webapp import clock, panel_writes
from webapp.auth.access import is_agent
from webapp.auth.models import User
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.formtools import check_plain_text
from webapp.money import MAX_CENTS, to_cents, units_to_rate
from webapp.sales.checks import MAX_QUANTITY, SaleInput, check_key
from webapp.sales.models import FULL_SHARE, SaleStatus

_RECORD = text("""
WITH ok AS (
    SELECT p.id AS product_id, p.name AS product_name, c.name AS customer_name,
           COALESCE(CAST(:unit_price_cents AS BIGINT), p.list_price_cents) AS unit_price_cents
    FROM products p JOIN customers c ON c.id = :customer_id
    WHERE p.id = :product_id AND p.active
      AND (NOT p.restricted OR EXISTS (SELECT 1 FROM product_assignments pa
                                      WHERE pa.product_id = p.id AND pa.agent_id = :agent_id))
      AND NOT EXISTS (SELECT 1 FROM periods WHERE status = 'closed' AND end_date >= :sold_on)
      -- Sales approved on entry recompute the ledger: the full path's work.
      AND (SELECT approval_required FROM settings WHERE id = 1)
), holder AS (
    -- Lock the agent's row, as ledger.lock_agent does for every change to the agent's sales.
    SELECT id, manager_id FROM users WHERE id = :agent_id FOR NO KEY UPDATE
), sale AS (
    INSERT INTO sales (agent_id, product_id, customer_id, quantity, unit_price_cents, amount_cents,
                       sold_on, status, entered_by_id, idempotency_key, note)
    SELECT holder.id, ok.product_id, :customer_id, :quantity, ok.unit_price_cents,
           :quantity * ok.unit_price_cents, :sold_on, :status, :agent_id, :key, :note
    FROM ok, holder
    WHERE ok.unit_price_cents >= 1 AND CAST(:quantity AS NUMERIC) * ok.unit_price_cents < :max_cents
    ON CONFLICT ON CONSTRAINT uq_sales_entered_by_key DO NOTHING
    RETURNING id, unit_price_cents, amount_cents
), credit AS (
    INSERT INTO sale_credits (sale_id, agent_id, position, share_units, credit_cents, team_id)
    SELECT sale.id, holder.id, 0, :full_share, sale.amount_cents, holder.manager_id FROM sale, holder
    RETURNING sale_id
), audit AS (
    INSERT INTO audit_events (actor_id, action, object_type, object_id, before, after)
    -- The audited fields in checks.snapshot's order, the figures as the insert settled them.
    SELECT :agent_id, 'sale.create', 'Sale', sale.id, NULL, json_build_object(
               'agent_id', CAST(:agent_id AS INTEGER), 'product_id', CAST(:product_id AS INTEGER),
               'customer_id', CAST(:customer_id AS INTEGER), 'quantity', CAST(:quantity AS INTEGER),
               'unit_price_cents', sale.unit_price_cents, 'amount_cents', sale.amount_cents,
               'sold_on', CAST(:sold_on_text AS TEXT), 'status', CAST(:status AS TEXT), 'reason', NULL,
               'note', CAST(:note AS TEXT), 'credits', json_build_array(json_build_object(
                   'agent_id', CAST(:agent_id AS INTEGER), 'share', CAST(:share AS TEXT),
                   'credit_cents', sale.amount_cents)))
    FROM sale
    RETURNING object_id
)
SELECT sale.id, sale.unit_price_cents, sale.amount_cents, ok.product_name, ok.customer_name
FROM sale, ok, credit, audit
""")


@dataclass(frozen=True)
class Named:
    """A product or customer as a sale's row shows it."""

    name: str


@dataclass(frozen=True)
class QuickSale:
    """The sale just written, with what its row in the recent list shows."""

    id: int
    agent_id: int
    sold_on: date
    quantity: int
    unit_price_cents: int
    amount_cents: int
    status: str
    product: Named
    customer: Named


def _common(actor: User, data: SaleInput) -> bool:
    """True when the sale is the common case this path writes (else the full path decides)."""
    if db.session.get_bind().dialect.name != "postgresql" or not is_agent(actor):
        return False
    if data.co_agents or (data.share is not None and str(data.share).strip()):
        return False
    if data.customer_id is None or data.new_customer_name or data.new_customer_email:
        return False
    if not isinstance(data.product_id, int) or not isinstance(data.quantity, int):
        return False
    if not 1 <= data.quantity <= MAX_QUANTITY or not isinstance(data.sold_on, date):
        return False
    return data.sold_on <= clock.today()


def record_sale(actor: User, data: SaleInput, *, idempotency_key: str) -> QuickSale | None:
    """Write the agent's common-case sale in one statement; None: the full path must run (nothing
    written). The route commits."""
    if not _common(actor, data):
        return None
    try:
        key = check_key(idempotency_key)
        unit_price_cents = None if data.unit_price is None else to_cents(data.unit_price)
        note = check_plain_text((data.note or "").strip(), "note", multiline=True) or None
    except (ServiceError, TypeError, ValueError, ArithmeticError):
        return None
    if note is not None and len(note) > 2000:
        return None
    share = f"{units_to_rate(FULL_SHARE):f}"  # as checks.snapshot writes a share
    values = {
        "unit_price_cents": unit_price_cents, "customer_id": data.customer_id, "product_id": data.product_id,
        "agent_id": actor.id, "sold_on": data.sold_on, "quantity": data.quantity,
        "status": SaleStatus.PENDING.value, "key": key, "note": note, "max_cents": MAX_CENTS,
        "full_share": FULL_SHARE, "sold_on_text": data.sold_on.isoformat(), "share": share,
    }
    with panel_writes.writes_for([actor.id]):  # the agent's own sale, with no co-agent
        row = db.session.execute(_RECORD, values).first()
    if row is None:
        return None
    return QuickSale(id=row.id, agent_id=actor.id, sold_on=data.sold_on, quantity=data.quantity,
                     unit_price_cents=row.unit_price_cents, amount_cents=row.amount_cents,
                     status=SaleStatus.PENDING.value, product=Named(row.product_name),
                     customer=Named(row.customer_name))
