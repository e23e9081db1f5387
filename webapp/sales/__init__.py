"""Sales: the agent portal (log sales, live totals, my sales) and the sale services."""

from flask import Blueprint

# The routes module is imported by create_app, not here: the ledger imports
# webapp.sales.models, and importing routes from this package file would loop back into it.
bp = Blueprint("sales", __name__)
