"""The order a statement lists its lines in, the same for the stored snapshot, the page, the PDF and the API.

- Sale lines: by sale date (`sold_on`), then sale id, as COMMISSION_RULES.md section 11 promises
  (the ledger's entry ids follow approval order, which is not the order a reader expects).
- SPIFF rewards: like sale lines (sale date, sale id, entry id).
- Adjustments: by the day they were made, then entry id (so the order they were made within a day).
- Payouts: by payment date, then payout id.

New snapshots are stored in this order; statements issued before it was applied are put in it when
they are shown (their stored figures, and any PDF already rendered, stay exactly as issued).
"""

from __future__ import annotations


def _line_key(line: dict) -> tuple:
    """Sort key of a sale line: sale date (ISO text sorts as dates do), sale id, entry id."""
    return line["date"], line["sale_id"], line["entry_id"]


def _adjustment_key(item: dict) -> tuple:
    """Sort key of an adjustment: the day it was made, then its entry id."""
    return item["date"], item["entry_id"]


def _payout_key(item: dict) -> tuple:
    """Sort key of a payout: payment date, then payout id."""
    return item["date"], item["id"]


def in_statement_order(snapshot: dict) -> dict:
    """A copy of the snapshot with its lines, adjustments and payouts in statement order."""
    ordered = dict(snapshot)
    ordered["lines"] = sorted(snapshot.get("lines", ()), key=_line_key)
    ordered["spiffs"] = sorted(snapshot.get("spiffs", ()), key=_line_key)
    ordered["adjustments"] = sorted(snapshot.get("adjustments", ()), key=_adjustment_key)
    ordered["payouts"] = sorted(snapshot.get("payouts", ()), key=_payout_key)
    return ordered
