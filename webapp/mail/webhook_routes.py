"""POST /webhooks/mailchimp: Mailchimp Transactional reports what happened to the messages we sent.

Register exactly `<BASE_URL>/webhooks/mailchimp` (no query string) as the webhook URL in Mailchimp
and put that webhook's key in MAILCHIMP_WEBHOOK_KEY: every call is signed with both, and a call
whose signature does not match is refused with 403 and changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable

from flask import abort, current_app, jsonify, request

from webapp.extensions import csrf
from webapp.mail import bp
from webapp.mail.events import record_mailchimp_event
from webapp.web import run_service

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/mailchimp"

# Mailchimp cannot send our CSRF token; each call proves its origin with X-Mandrill-Signature instead.
csrf.exempt(bp)


def mailchimp_signature(key: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Mailchimp's signature: base64 HMAC-SHA1 (webhook key) of the URL + each POST key and value by key."""
    signed = url + "".join(k + v for k, v in sorted(params, key=lambda item: item[0]))
    return base64.b64encode(hmac.new(key.encode(), signed.encode(), hashlib.sha1).digest()).decode("ascii")


def _signature_is_valid() -> bool:
    """Whether this request carries the signature Mailchimp would make for it with our key."""
    key = current_app.config.get("MAILCHIMP_WEBHOOK_KEY")
    given = request.headers.get("X-Mandrill-Signature", "")
    if not key or not given:
        return False
    # Signed over the URL as registered in Mailchimp, never over the Host header of this request.
    url = current_app.config.get("BASE_URL", "") + WEBHOOK_PATH
    expected = mailchimp_signature(key, url, request.form.items(multi=True))
    return hmac.compare_digest(expected.encode(), given.encode())


@bp.route(WEBHOOK_PATH, methods=["GET", "HEAD", "POST"])
def mailchimp():
    """Verify the signature, then apply each message event in `mandrill_events` to its email."""
    if request.method != "POST":
        # Mailchimp checks that the URL answers (a HEAD request) before it saves the webhook.
        return "", 200
    if not _signature_is_valid():
        log.warning("Mailchimp webhook call with a missing or wrong signature from %s", request.remote_addr)
        abort(403)
    try:
        events = json.loads(request.form.get("mandrill_events", ""))
    except ValueError:
        abort(400)
    if not isinstance(events, list):
        abort(400)
    # Events about messages we do not know (other apps on the account, test events) are
    # acknowledged all the same: Mailchimp retries any call that does not answer 2xx.
    applied = run_service(lambda: sum(record_mailchimp_event(e) for e in events if isinstance(e, dict))).value
    return jsonify(received=len(events), applied=applied)
