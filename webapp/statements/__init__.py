"""Commission statements: issued once per agent and period (or on request), as HTML and PDF."""

from flask import Blueprint

bp = Blueprint("statements", __name__)
