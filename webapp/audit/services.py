"""Writing audit events."""

from __future__ import annotations

from webapp.audit.models import AuditEvent
from webapp.extensions import db


def record(actor, action: str, obj, before: dict | None = None, after: dict | None = None) -> AuditEvent:
    """Add an audit event for `obj` to the session (the caller's commit makes it permanent)."""
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        action=action,
        object_type=type(obj).__name__,
        object_id=getattr(obj, "id", None),
        before=before,
        after=after,
    )
    db.session.add(event)
    return event
