"""A local stand-in for the Mailchimp Transactional API, for tests that run the real client.

It speaks the two calls the app makes, messages/send.json and messages/search.json, on
127.0.0.1 at a free port: it checks the API key, answers per recipient, keeps every message it
took (attachments decoded) for assertions, and can be told to misbehave the ways the real service
and the network do: answer 500, hang, reject the recipient, or send an error with an empty body.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = "stub-test-key"

INVALID_KEY = {"status": "error", "code": -1, "name": "Invalid_Key", "message": "Invalid API key"}
_METADATA_QUERY = re.compile(r'^u_(?P<field>[A-Za-z0-9_]+):(?:"(?P<phrase>(?:[^"\\]|\\.)*)"|(?P<term>\S+))$')


@dataclass
class StubAttachment:
    """An attachment as the stub received it, decoded from base64."""

    name: str
    type: str
    data: bytes


@dataclass
class StubMessage:
    """One message the stub took (one per recipient, as Mailchimp counts them)."""

    id: str
    to: str
    from_email: str
    from_name: str | None
    subject: str
    text: str | None
    html: str | None
    attachments: list[StubAttachment]
    metadata: dict
    state: str
    reject_reason: str | None
    ts: float
    raw: dict = field(repr=False)


@dataclass
class _Misbehaviour:
    """What the next calls to one endpoint should do instead of answering normally."""

    kind: str  # "error", "empty", "hang" or "reject"
    status: int = 500
    body: dict | None = None
    seconds: float = 0.0
    reason: str | None = None


class MailchimpStub:
    """The stub server and what it saw; start() before use, stop() after."""

    def __init__(self, api_key: str = API_KEY):
        """Prepare an unstarted stub that accepts `api_key`."""
        self.api_key = api_key
        self.messages: list[StubMessage] = []
        self.calls: list[tuple[str, dict]] = []
        self._misbehaviour: dict[str, _Misbehaviour] = {}
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> MailchimpStub:
        """Listen on a free port of 127.0.0.1 in a background thread."""
        stub = self

        class Handler(_Handler):
            """The request handler, bound to this stub."""

            owner = stub

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="mailchimp-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging requests, stop serving and close the socket."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def host(self) -> str:
        """The API base URL to give the client (`client.api_client.host`)."""
        assert self._server is not None, "start() the stub first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- telling it to misbehave ---------------------------------------------------------------

    def fail_with(self, status: int = 500, name: str = "GeneralError", message: str = "Stub failure",
                  endpoint: str = "send") -> None:
        """Answer `endpoint` calls with a JSON error and this HTTP status."""
        body = {"status": "error", "code": -1, "name": name, "message": message}
        self._misbehaviour[endpoint] = _Misbehaviour("error", status=status, body=body)

    def fail_with_empty_body(self, status: int = 502, endpoint: str = "send") -> None:
        """Answer `endpoint` calls with an error status and no body at all (as a proxy might)."""
        self._misbehaviour[endpoint] = _Misbehaviour("empty", status=status)

    def hang(self, seconds: float = 5.0, endpoint: str = "send") -> None:
        """Hold `endpoint` calls this long (longer than the client's timeout), then drop them."""
        self._misbehaviour[endpoint] = _Misbehaviour("hang", seconds=seconds)

    def reject(self, reason: str = "hard-bounce") -> None:
        """Refuse the recipients of the next sends, as Mailchimp does for a known-bad address."""
        self._misbehaviour["send"] = _Misbehaviour("reject", reason=reason)

    def behave(self) -> None:
        """Answer normally again."""
        self._misbehaviour.clear()

    # --- what it saw ---------------------------------------------------------------------------

    def sent(self) -> list[StubMessage]:
        """The messages taken for delivery (not the rejected ones)."""
        with self._lock:
            return [m for m in self.messages if m.state == "sent"]

    def calls_to(self, endpoint: str) -> list[dict]:
        """The request bodies received for `endpoint` ("send" or "search"), key included."""
        with self._lock:
            return [body for name, body in self.calls if name == endpoint]

    # --- the API -------------------------------------------------------------------------------

    def _handle(self, endpoint: str, body: dict) -> tuple[int, object]:
        """Answer one API call: (HTTP status, JSON body), or (status, None) for an empty body."""
        with self._lock:
            self.calls.append((endpoint, body))
        misbehaviour = self._misbehaviour.get(endpoint)
        if misbehaviour is not None and misbehaviour.kind == "hang":
            # The call is dropped after the wait, so a test knows exactly what was kept.
            self._release.wait(misbehaviour.seconds)
            return 504, None
        if body.get("key") != self.api_key:
            return 401, INVALID_KEY
        if misbehaviour is not None and misbehaviour.kind == "error":
            return misbehaviour.status, misbehaviour.body
        if misbehaviour is not None and misbehaviour.kind == "empty":
            return misbehaviour.status, None
        if endpoint == "send":
            rejecting = misbehaviour is not None and misbehaviour.kind == "reject"
            return self._send(body, misbehaviour.reason if rejecting else None)
        return self._search(body)

    def _send(self, body: dict, reject_reason: str | None) -> tuple[int, object]:
        """messages/send: validate, keep one message per recipient, answer per recipient."""
        message = body.get("message")
        if not isinstance(message, dict) or not message.get("to") or not message.get("from_email"):
            return 500, {"status": "error", "code": -2, "name": "ValidationError",
                         "message": "message needs from_email and at least one recipient"}
        attachments = []
        for item in message.get("attachments") or []:
            try:
                data = base64.b64decode(item["content"], validate=True)
            except (KeyError, TypeError, binascii.Error):
                return 500, {"status": "error", "code": -2, "name": "ValidationError",
                             "message": f"attachment {item.get('name')!r} is not valid base64"}
            attachments.append(StubAttachment(name=item.get("name"), type=item.get("type"), data=data))
        metadata = message.get("metadata") or {}
        if len(json.dumps(metadata).encode()) > 250:  # Mailchimp's documented limit
            return 500, {"status": "error", "code": -2, "name": "ValidationError",
                         "message": "metadata is limited to 250 bytes of JSON"}
        answers = []
        for recipient in message["to"]:
            state = "rejected" if reject_reason else "sent"
            stored = StubMessage(
                id=uuid.uuid4().hex, to=recipient["email"], from_email=message["from_email"],
                from_name=message.get("from_name"), subject=message.get("subject", ""),
                text=message.get("text"), html=message.get("html"), attachments=attachments,
                metadata=dict(metadata), state=state, reject_reason=reject_reason, ts=time.time(), raw=body,
            )
            with self._lock:
                self.messages.append(stored)
            answers.append({"email": stored.to, "status": state, "_id": stored.id,
                            "reject_reason": reject_reason, "queued_reason": None})
        return 200, answers

    def _search(self, body: dict) -> tuple[int, object]:
        """messages/search, for the one query shape the app sends: u_<metadata field>:"value"."""
        match = _METADATA_QUERY.match(body.get("query") or "")
        if match is None:
            unknown = f"the stub only understands u_<field>:\"value\", got {body.get('query')!r}"
            return 500, {"status": "error", "code": -2, "name": "ValidationError", "message": unknown}
        value = match["phrase"] if match["phrase"] is not None else match["term"]
        value = re.sub(r"\\(.)", r"\1", value)
        date_from = body.get("date_from")
        with self._lock:
            found = [m for m in self.messages if str(m.metadata.get(match["field"])) == value]
        if date_from:
            found = [m for m in found
                     if datetime.fromtimestamp(m.ts, timezone.utc).strftime("%Y-%m-%d") >= date_from[:10]]
        limit = int(body.get("limit") or 100)
        return 200, [{"ts": int(m.ts), "_id": m.id, "sender": m.from_email, "template": None,
                      "subject": m.subject, "email": m.to, "tags": [], "opens": 0, "clicks": 0,
                      "state": m.state, "metadata": m.metadata} for m in found[:limit]]


class _QuietServer(ThreadingHTTPServer):
    """Threads die with the test; a client that gave up mid-answer is not an error worth printing."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        """Ignore errors from clients that went away (the timeout tests cause them on purpose)."""


class _Handler(BaseHTTPRequestHandler):
    """Routes POST /messages/<call>.json to the stub."""

    owner: MailchimpStub
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        """Decode the JSON body, let the stub answer, write the answer."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        routes = {"/messages/send.json": "send", "/messages/search.json": "search"}
        endpoint = routes.get(self.path)
        if endpoint is None:
            return self._answer(404, {"status": "error", "code": -1, "name": "Unknown_Method",
                                      "message": f"no such call {self.path}"})
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self._answer(400, {"status": "error", "code": -1, "name": "ValidationError",
                                      "message": "body is not JSON"})
        status, answer = self.owner._handle(endpoint, body if isinstance(body, dict) else {})
        self._answer(status, answer)

    def _answer(self, status: int, answer) -> None:
        """Write a JSON answer, or a bare status with an empty body when `answer` is None."""
        payload = b"" if answer is None else json.dumps(answer).encode()
        try:
            self.send_response(status)
            if answer is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and left; nothing to tell it

    def log_message(self, format, *args):
        """Keep the test output clean."""
