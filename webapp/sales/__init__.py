"""Sales: the agent portal (log sales, live totals, my sales) and the sale services."""

from flask import Blueprint

bp = Blueprint("sales", __name__)

from webapp.sales import routes  # noqa: E402,F401
