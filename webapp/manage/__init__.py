"""Managers' pages under /manage: the review queue, the team, money, periods, exports, imports.

The blueprint keeps the name "review" (its endpoint names, such as review.queue, are part of the
contract the tests freeze); the package is named after its URL prefix. Managers see their own
team; admins see every agent.
"""

from flask import Blueprint

bp = Blueprint("review", __name__, url_prefix="/manage")
