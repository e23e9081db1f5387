"""Accounts: sign-in, sign-out, password reset, role guards."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from webapp.auth import routes  # noqa: E402,F401
