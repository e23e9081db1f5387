"""Delivery events the provider reports after a send (Mailchimp webhooks), applied to the emails.

A send call only says that Mailchimp took the message; whether it was delivered, bounced or
marked as spam arrives later, by webhook, in batches that can be late, repeated and out of order.
Applying an event is therefore idempotent and never lets an older event overwrite a newer one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from sqlalchemy import select

from webapp.extensions import db
from webapp.mail.models import EmailStatus, OutgoingEmail

log = logging.getLogger(__name__)

# The message will not reach the recipient (or the recipient refused it): the email is rejected.
REJECTING_EVENTS = frozenset({"hard_bounce", "reject", "spam"})
# Evidence that the message went out (an open or a click can only follow a delivery).
DELIVERED_EVENTS = frozenset({"send", "delivered", "open", "click"})
# Worth showing, but they change nothing: Mailchimp keeps retrying deferred and soft-bounced mail.
NOTED_EVENTS = frozenset({"deferral", "soft_bounce", "unsub"})
KNOWN_EVENTS = REJECTING_EVENTS | DELIVERED_EVENTS | NOTED_EVENTS
# A delivered event makes these sent (a failed attempt may have reached the provider after all).
NOT_YET_SENT = (EmailStatus.QUEUED, EmailStatus.SENDING, EmailStatus.FAILED)

_PLAIN_REASONS = {
    "spam": "the recipient marked it as spam",
    "reject": "Mailchimp refused to send it",
    "unsub": "the recipient unsubscribed",
}


def _detail(name: str, msg: dict) -> str:
    """What the provider said about this event, in one line (bounce description and SMTP diagnosis)."""
    parts = [str(msg[k]) for k in ("bounce_description", "diag") if msg.get(k)]
    smtp_events = msg.get("smtp_events")
    if not parts and isinstance(smtp_events, list) and smtp_events and isinstance(smtp_events[-1], dict):
        parts = [str(smtp_events[-1].get("diag") or "")]
    reason = " / ".join(p for p in parts if p) or _PLAIN_REASONS.get(name, "")
    return f"Mailchimp {name}: {reason}"[:500] if reason else f"Mailchimp {name}"


def _find_email(provider_id: str, metadata: dict) -> OutgoingEmail | None:
    """The email this event is about: by the provider's id, or by our key in the message metadata.

    The key matters when the send call itself failed (a timeout) after Mailchimp had already
    taken the message: the row never learned the id, and the event is how it learns it.
    """
    email = db.session.scalar(
        select(OutgoingEmail).where(OutgoingEmail.provider_id == provider_id).with_for_update())
    if email is not None:
        return email
    key = metadata.get("email_key")
    if not key:
        return None
    email = db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.key == str(key)).with_for_update())
    # A row that already knows a different id was sent again; this event is about the other copy.
    if email is None or email.provider_id not in (None, provider_id):
        return None
    email.provider_id = provider_id
    return email


def record_mailchimp_event(event: dict) -> bool:
    """Apply one Mailchimp message event to its email (flushed); False when it is not about one of ours."""
    name = event.get("event")
    msg = event.get("msg")
    if name not in KNOWN_EVENTS or not isinstance(msg, dict):
        return False  # sync events (allow/deny list changes) and anything new: nothing to update
    provider_id = msg.get("_id") or event.get("_id")
    try:
        at = datetime.fromtimestamp(int(event.get("ts") or msg.get("ts")), timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        log.warning("Mailchimp %s event without a usable timestamp: %.200r", name, event)
        return False
    if not provider_id:
        return False
    metadata = msg.get("metadata") if isinstance(msg.get("metadata"), dict) else {}
    email = _find_email(str(provider_id), metadata)
    if email is None:
        return False
    latest = email.delivery_event_at
    if latest is not None and at < latest:
        return True  # an older event delivered late: what we know is newer
    email.delivery_event, email.delivery_event_at, email.delivery_detail = name, at, _detail(name, msg)
    if name in REJECTING_EVENTS:
        email.status, email.last_error = EmailStatus.REJECTED, email.delivery_detail
    elif name in DELIVERED_EVENTS and email.status in NOT_YET_SENT:
        email.status, email.sent_at, email.last_error = EmailStatus.SENT, email.sent_at or at, None
    db.session.flush()
    return True
