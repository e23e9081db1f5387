"""Commission statements: issued once per agent and period (or on request), as HTML and PDF."""

from flask import Blueprint

# Routes are imported by create_app (see webapp.sales for why not from here).
bp = Blueprint("statements", __name__)
