"""Development mail backend: every message is kept as files under instance/outbox/."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from webapp.mail.messages import EmailMessage, SendResult
from webapp.private_files import private_dir, write_private

_ID_PATTERN = re.compile(r"^\d{8}T\d{6}\d{6}-[0-9a-f]{12}$")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class StoredMessage:
    """A message read back from the outbox."""

    id: str
    to: str
    subject: str
    sent_at: str
    metadata: dict
    attachments: list[dict]
    text: str
    has_html: bool


def safe_filename(name: str) -> str:
    """A file name that cannot climb out of its folder."""
    cleaned = _UNSAFE_FILENAME.sub("_", name).strip("._") or "attachment"
    return cleaned[:120]


class OutboxBackend:
    """Writes each message to its own folder; nothing leaves the machine."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> SendResult:
        """Store the message and report it as sent."""
        now = datetime.now(timezone.utc)
        message_id = f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:12]}"
        folder = self.directory / message_id
        # Messages hold reset links and statements: owner-only folders and files.
        private_dir(self.directory)
        private_dir(folder / "attachments")
        attachments = []
        for attachment in message.attachments:
            filename = safe_filename(attachment.filename)
            write_private(folder / "attachments" / filename, attachment.data)
            attachments.append({"filename": filename, "content_type": attachment.content_type,
                                "size": len(attachment.data)})
        write_private(folder / "body.txt", message.text)
        if message.html is not None:
            write_private(folder / "body.html", message.html)
        meta = {"to": message.to, "subject": message.subject, "sent_at": now.isoformat(),
                "metadata": message.metadata, "attachments": attachments}
        # Written last: a folder without message.json is an interrupted write and is not listed.
        write_private(folder / "message.json", json.dumps(meta, indent=2))
        return SendResult(status="sent", provider_id=message_id)

    def find_sent(self, metadata_key: str, value: str, since=None) -> str | None:
        """The id of a kept message whose metadata has `metadata_key` == `value` (crash recovery)."""
        for message in self.list(limit=10_000):
            if message.metadata.get(metadata_key) == value:
                return message.id
        return None

    def _folder(self, message_id: str) -> Path | None:
        """The folder of a message id, refusing anything that is not an id we made."""
        if not _ID_PATTERN.match(message_id or ""):
            return None
        folder = self.directory / message_id
        return folder if (folder / "message.json").is_file() else None

    def list(self, limit: int = 200) -> list[StoredMessage]:
        """The newest messages first."""
        if not self.directory.is_dir():
            return []
        ids = sorted((p.name for p in self.directory.iterdir() if _ID_PATTERN.match(p.name)),
                     reverse=True)
        messages = (self.get(message_id) for message_id in ids)
        return [m for m in messages if m is not None][:limit]

    def get(self, message_id: str) -> StoredMessage | None:
        """One stored message, or None."""
        folder = self._folder(message_id)
        if folder is None:
            return None
        meta = json.loads((folder / "message.json").read_text(encoding="utf-8"))
        return StoredMessage(
            id=message_id, to=meta["to"], subject=meta["subject"], sent_at=meta["sent_at"],
            metadata=meta.get("metadata", {}), attachments=meta.get("attachments", []),
            text=(folder / "body.txt").read_text(encoding="utf-8"),
            has_html=(folder / "body.html").is_file(),
        )

    def html(self, message_id: str) -> str | None:
        """The HTML body of a stored message, or None."""
        folder = self._folder(message_id)
        if folder is None or not (folder / "body.html").is_file():
            return None
        return (folder / "body.html").read_text(encoding="utf-8")

    def attachment(self, message_id: str, filename: str) -> tuple[bytes, str] | None:
        """The bytes and content type of one attachment, or None."""
        message = self.get(message_id)
        if message is None:
            return None
        for item in message.attachments:
            if item["filename"] == filename:
                data = (self.directory / message_id / "attachments" / item["filename"]).read_bytes()
                return data, item["content_type"]
        return None
