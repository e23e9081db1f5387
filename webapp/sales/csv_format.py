"""The sales CSV format shared by the import and the export: columns, byte-order mark, cells.

Cells follow OWASP's CSV-injection guidance: a text cell that starts with = + - @, a tab or a
carriage return gets a leading single quote, so a spreadsheet shows it as text instead of running
it; the import takes that quote off again.
"""

from __future__ import annotations

# Excel reads a UTF-8 file as such only when it starts with a byte-order mark.
BOM = "\ufeff"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# The first eight columns are exactly the import's header, so an export can be imported again.
IMPORT_COLUMNS = ("key", "agent_email", "sku", "customer", "quantity", "unit_price", "date", "note")
# Optional import column: a split sale's co-agents as "email:share" pairs separated by ";", e.g.
# "ben@example.com:40;cy@example.com:10" (the agent of agent_email keeps the rest of 100%).
OPTIONAL_COLUMNS = ("co_agents",)
SALES_COLUMNS = IMPORT_COLUMNS + (
    "sale_id", "agent_name", "product_name", "amount", "status", "commission", "entered_by",
    "decided_by", "decided_at", "reason")

# The export's split credit (COMMISSION_RULES.md section 8): `co_agents` as the import writes it
# ("email:share;email:share", the primary keeping the rest), then one cell per figure so a
# spreadsheet can add them up: the primary's share and credit, each co-agent's email, share, credit.
MAX_CO_AGENT_COLUMNS = 4
CREDIT_COLUMNS = ("co_agents", "primary_share", "primary_credit") + tuple(
    f"co_agent_{n}_{what}" for n in range(1, MAX_CO_AGENT_COLUMNS + 1) for what in ("email", "share", "credit"))
SALES_COLUMNS += CREDIT_COLUMNS


def text_cell(value) -> str:
    """A text cell, neutralised when a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text
