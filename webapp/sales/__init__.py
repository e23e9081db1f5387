"""Sales: the agent portal (log sales, live totals, my sales), the sale services, CSV import."""

from flask import Blueprint

bp = Blueprint("sales", __name__)
