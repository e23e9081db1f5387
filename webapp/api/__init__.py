"""JSON API v1: bearer tokens, no cookies, no CSRF; the same services as the pages.

Routes are imported by create_app (see webapp.sales for why not from here).
"""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
