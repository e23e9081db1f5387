"""Administration: users, the catalogue, plans, targets, settings, the audit log, the dev outbox."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
