"""Mailchimp Transactional (Mandrill) backend, through the official mailchimp-transactional client.

The client has three ways of failing, and each is handled here:

- most errors raise `ApiClientError`, whose `str()` is empty: the details are in `.text` (the
  decoded JSON error, e.g. {"name": "Invalid_Key", ...}) and `.status_code`;
- an error answer with an EMPTY body is not raised at all: the client hands back the raw
  `requests.Response`, which must not be mistaken for a success;
- network failures (refused connection, timeout) come through as `requests` exceptions.

All three become a `MailProviderError`, marked permanent when retrying cannot help.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime, timedelta, timezone

import mailchimp_transactional
import requests
from mailchimp_transactional.api_client import ApiClientError

from webapp.mail.messages import EmailMessage, MailProviderError, SendResult

log = logging.getLogger(__name__)

# Seconds the client waits to connect and for each read. The three delays are nested so that a
# slow send is never mistaken for a lost one: this timeout (15 s) < the emails queue's job timeout
# (webapp/tasks.py, 40 s, which a job making two calls, a messages/search for crash recovery then
# messages/send, still fits: 2 x 15 s) < the age at which a `sending` email counts as abandoned
# (webapp.mail.services.SENDING_ABANDONED_AFTER, 45 s). A hanging provider thus ends as a
# recorded, retryable error before RQ would kill the job, and long before a reconcile re-queues it.
DEFAULT_TIMEOUT = 15

# Mailchimp keeps searchable details of delivered messages for 30 days.
SEARCH_WINDOW = timedelta(days=30)

# Error names meaning "this request will never succeed as it is": a wrong key, a malformed
# message, an account that cannot send. Mailchimp reports some of them with HTTP 500, so the
# name decides before the status code does.
PERMANENT_ERROR_NAMES = frozenset({
    "Invalid_Key", "ValidationError", "PaymentRequired", "Unknown_Subaccount", "Unknown_Template",
    "Unknown_Sender", "Invalid_Template", "Unknown_Metadata_Field",
})
# 4xx answers that are about timing, not about the request itself.
TRANSIENT_4XX = frozenset({408, 409, 425, 429})


def _is_permanent(status_code: int | None, name: str | None) -> bool:
    """Whether an error answer is worth retrying (network failures and 5xx are; bad keys are not)."""
    if name in PERMANENT_ERROR_NAMES:
        return True
    if status_code is None:
        return False
    return 400 <= status_code < 500 and status_code not in TRANSIENT_4XX


def _describe(text) -> tuple[str, str | None]:
    """A readable message and the error name from the client's `.text` (a dict, a string or None)."""
    if isinstance(text, dict):
        name = text.get("name")
        message = text.get("message") or ""
        return (f"{name}: {message}" if name else str(text))[:1000], name
    # A proxy in front of the API can answer with a whole HTML page; keep the start of it.
    return (str(text)[:1000] if text else "empty answer"), None


class MailchimpBackend:
    """Sends each message with messages/send and finds sent ones with messages/search."""

    def __init__(self, api_key: str, from_email: str, from_name: str, host: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT):
        """Build the client; `host` overrides the API base URL (tests point it at a local stub)."""
        self.from_email = from_email
        self.from_name = from_name
        self.timeout = timeout
        self.client = mailchimp_transactional.Client(api_key)
        if host:
            self.client.api_client.host = host.rstrip("/")
        self.client.set_timeout(timeout)

    def _call(self, operation: str, method, body: dict):
        """Call one client method and return its decoded answer, or raise MailProviderError."""
        try:
            answer = method(body)
        except ApiClientError as exc:
            message, name = _describe(exc.text)
            log.warning("Mailchimp %s failed: HTTP %s %.1000r", operation, exc.status_code, exc.text)
            raise MailProviderError(exc.status_code, message, permanent=_is_permanent(exc.status_code, name),
                                    name=name) from exc
        except requests.exceptions.RequestException as exc:
            # A malformed host setting will not fix itself; refused connections and timeouts may.
            permanent = isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                                         requests.exceptions.InvalidSchema))
            log.warning("Mailchimp %s failed: %s: %s", operation, type(exc).__name__, exc)
            raise MailProviderError(None, f"{type(exc).__name__}: {exc}", permanent=permanent) from exc
        if isinstance(answer, requests.Response):
            # The client returns the raw response whenever the decoded body is falsy: an error
            # with an empty body, but also a perfectly good empty JSON list (a search with no hits).
            status = answer.status_code
            if answer.ok:
                try:
                    decoded = answer.json()
                except ValueError:
                    decoded = None
                if decoded is not None:
                    return decoded
                log.warning("Mailchimp %s answered HTTP %s with no readable body", operation, status)
                raise MailProviderError(status, f"HTTP {status} without a readable answer")
            log.warning("Mailchimp %s answered HTTP %s with an empty body", operation, status)
            raise MailProviderError(status, f"HTTP {status} with an empty body",
                                    permanent=_is_permanent(status, None))
        return answer

    def send(self, message: EmailMessage) -> SendResult:
        """Send one message with messages/send and report the recipient's result."""
        body = {"message": {
            "from_email": self.from_email,
            "from_name": self.from_name,
            "to": [{"email": message.to, "type": "to"}],
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
            "attachments": [
                {"type": a.content_type, "name": a.filename,
                 "content": base64.b64encode(a.data).decode("ascii")}
                for a in message.attachments
            ],
            # Mailchimp keeps metadata values as strings; they come back in search results and
            # webhook events, which is how a message is matched to its row after a crash.
            "metadata": {key: str(value) for key, value in message.metadata.items()},
            "preserve_recipients": False,
        }}
        if message.html is None:
            del body["message"]["html"]
        answer = self._call("messages/send", self.client.messages.send, body)
        if not isinstance(answer, list) or not answer:
            raise MailProviderError(None, f"unexpected messages/send answer: {answer!r}"[:500])
        results = [r for r in answer if isinstance(r, dict)]
        mine = next((r for r in results if str(r.get("email", "")).lower() == message.to.lower()),
                    results[0] if results else None)
        if mine is None or not mine.get("status"):
            raise MailProviderError(None, f"unexpected messages/send answer: {answer!r}"[:500])
        status = mine["status"]
        reason = mine.get("reject_reason")
        if status == "invalid" and not reason:
            reason = "invalid recipient address"
        return SendResult(status=status, provider_id=mine.get("_id"), reject_reason=reason)

    def find_sent(self, metadata_key: str, value: str, since: datetime | None = None) -> str | None:
        """The id of a message already at Mailchimp whose metadata has `metadata_key` == `value`.

        Searched with messages/search over the sending window. The query uses the documented
        `u_<field>:` syntax for custom metadata, which only finds fields Mailchimp indexes (set
        them under Settings > Custom Metadata); each hit's metadata is compared exactly as well,
        since a Lucene phrase can match more than the one value.
        """
        start = since or (datetime.now(timezone.utc) - SEARCH_WINDOW)
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        body = {
            "query": f'u_{metadata_key}:"{escaped}"',
            # A whole day earlier: date_from is a date, and Mailchimp need not reckon it in UTC.
            "date_from": (start.astimezone(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d"),
            "limit": 1000,
        }
        answer = self._call("messages/search", self.client.messages.search, body)
        if not isinstance(answer, list):
            raise MailProviderError(None, f"unexpected messages/search answer: {answer!r}"[:500])
        for hit in answer:
            metadata = hit.get("metadata") if isinstance(hit, dict) else None
            if isinstance(metadata, dict) and str(metadata.get(metadata_key)) == value and hit.get("_id"):
                return hit["_id"]
        return None
