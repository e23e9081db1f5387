"""Outgoing mail behind one small interface, so the provider can change without the callers.

messages.py holds what is sent, backends.py who sends it, services.py the queue (send after the
commit, exactly once) and attachments.py the files other packages attach; this blueprint only
receives the provider's delivery reports (webhook_routes.py).
"""

from flask import Blueprint

bp = Blueprint("mail_webhooks", __name__)
