"""Accounts: sign-in, sign-out, password reset, API tokens, role guards, and who may see what."""

from flask import Blueprint

bp = Blueprint("auth", __name__)
