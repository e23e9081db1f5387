"""JSON API v1: bearer tokens, no cookies, no CSRF; the same services as the pages.

`bp` carries the operations under /api/v1 (registered by framework.operation); `tokens_bp` the
profile page where a user makes and revokes their tokens (a cookie session, under /profile).
"""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
tokens_bp = Blueprint("api_tokens", __name__, url_prefix="/profile")
