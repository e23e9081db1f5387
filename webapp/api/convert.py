"""Between JSON and the services: money and time as the API writes them, request values as the
services take them, and statement snapshots as API models."""

from __future__ import annotations

from decimal import Decimal

from webapp.api.framework import ApiError
from webapp.api.schemas import Derivation
from webapp.api.statement_schemas import StatementAdjustment, StatementLine, StatementPayout, StatementSpiff
from webapp.catalog.models import Product
from webapp.extensions import db
from webapp.money import MoneyError, from_cents, parse_money, to_cents, units_to_rate


def money(cents: int | None) -> str | None:
    """Integer cents as the API's decimal string ("1250.00"); None stays None."""
    return None if cents is None else str(from_cents(cents))


def cents_of(text: str, field: str) -> int:
    """A money string of the body to cents, or a 422 naming `field`."""
    try:
        return to_cents(parse_money(text))
    except MoneyError as exc:
        raise ApiError(422, str(exc), {field: str(exc)}) from exc


def unit_price(text: str | None, product_id: int) -> Decimal | None:
    """The unit price given, else the product's list price (as the sale form does).

    None when the product is unknown: the service then says which product to choose."""
    if text is not None:
        try:
            return parse_money(text)
        except MoneyError as exc:
            raise ApiError(422, str(exc), {"unit_price": str(exc)}) from exc
    product = db.session.get(Product, product_id)
    return Decimal(product.list_price_cents) / 100 if product is not None else None


def entry_fields(entry) -> dict:
    """A ledger entry's fields as the API shows them (EntryOut's), money and rate as exact strings."""
    return {"id": entry.id, "agent_id": entry.agent_id, "kind": entry.kind, "period_start": entry.period.start_date,
            "period_end": entry.period.end_date, "period_closed": not entry.period.is_open,
            "spiff": entry.spiff.name if entry.spiff else None,
            "rate": None if entry.rate_units is None else str(units_to_rate(entry.rate_units)),
            "amount": money(entry.amount_cents), "reason": entry.reason, "late_approval": entry.late_approval,
            "derivation": derivation_of(entry.derivation)}


def derivation_of(stored: dict | None) -> Derivation | None:
    """A stored derivation (None on entries and statements from before derivations were kept)."""
    return Derivation(**stored) if stored else None


def _derivation(item: dict) -> Derivation | None:
    """A snapshot item's stored derivation."""
    return derivation_of(item.get("derivation"))


def snapshot_lines(snapshot: dict) -> list[StatementLine]:
    """A snapshot's sale lines (statements issued before split credit: the whole amount, 100%)."""
    return [StatementLine(entry_id=line["entry_id"], sale_id=line["sale_id"], date=line["date"],
                          product=line["product"], sku=line["sku"], customer=line["customer"],
                          quantity=line["quantity"], amount=money(line["amount_cents"]),
                          credited=money(line.get("credited_cents", line["amount_cents"])),
                          share=line.get("share", "100"), split=line.get("split", False),
                          rate=None if line["rate_units"] is None else str(units_to_rate(line["rate_units"])),
                          commission=money(line["commission_cents"]), derivation=_derivation(line),
                          plan_document=line.get("plan_document"))
            for line in snapshot["lines"]]


def snapshot_spiffs(snapshot: dict) -> list[StatementSpiff]:
    """A snapshot's SPIFF rewards (none on statements issued before SPIFFs)."""
    return [StatementSpiff(entry_id=item["entry_id"], sale_id=item["sale_id"], date=item["date"],
                           product=item["product"], quantity=item["quantity"], spiff=item["spiff"],
                           amount=money(item["amount_cents"]), derivation=_derivation(item))
            for item in snapshot.get("spiffs", ())]


def snapshot_adjustments(snapshot: dict) -> list[StatementAdjustment]:
    """A snapshot's adjustments."""
    return [StatementAdjustment(entry_id=item["entry_id"], kind=item["kind"], date=item["date"],
                                sale_id=item["sale_id"], sale_date=item["sale_date"], product=item["product"],
                                reason=item["reason"], spiff=item.get("spiff"), amount=money(item["amount_cents"]),
                                derivation=_derivation(item))
            for item in snapshot["adjustments"]]


def snapshot_payouts(snapshot: dict) -> list[StatementPayout]:
    """A snapshot's payouts."""
    return [StatementPayout(id=item["id"], date=item["date"], reference=item["reference"],
                            advance=item["advance"], amount=money(item["amount_cents"]))
            for item in snapshot["payouts"]]
