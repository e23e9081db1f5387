"""Managers' pages: the review queue, the team, payouts and adjustments, disputes, exports.

Each concern has its own routes module (queue, team, money, disputes, exports); create_app
imports them so their views attach to this blueprint. Managers see their own team; admins see
every agent.
"""

from flask import Blueprint

bp = Blueprint("review", __name__, url_prefix="/manage")
