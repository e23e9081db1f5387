"""Administration: users and the development outbox."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from webapp.admin import routes  # noqa: E402,F401
from webapp.admin import catalog  # noqa: E402,F401
from webapp.admin import plans  # noqa: E402,F401
from webapp.admin import audit  # noqa: E402,F401
