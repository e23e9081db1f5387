"""Every model, imported in one place so Alembic and the app see the whole schema."""

from webapp.audit.models import AuditEvent  # noqa: F401
from webapp.auth.models import Role, User  # noqa: F401
