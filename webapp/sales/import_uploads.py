"""Uploaded import files, kept between the preview and the confirmation.

In the database (ImportUpload), never on a web host's disk, so the confirmation may reach another
host than the upload did. The client only ever holds the random token, and every lookup is scoped
to the signed-in user, so one manager cannot preview or confirm another's upload (it is simply
not found). The confirmation locks the upload's row and deletes it in the import's own
transaction, so a double confirmation imports once. An upload expires after KEEP (the hourly
`import-upload-sweep` job deletes it); a user keeps at most MAX_PENDING, a new upload dropping the
oldest.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePath

from sqlalchemy import delete, select
from sqlalchemy.orm import undefer

from webapp.auth.models import User
from webapp.clock import now_utc
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.sales.import_file import MAX_ROWS, ImportFileError
from webapp.sales.imports import MAX_BYTES, ImportResult, run_import
from webapp.sales.models import ImportUpload

KEEP = timedelta(days=1)
# Uploads one user may leave waiting; a new one drops the oldest (an abandoned preview should not
# block the next upload, and a user rarely has more than a couple of tabs open).
MAX_PENDING = 10
KIND = "sales"
EXPIRED = "This upload has expired: files wait at most a day for their import. Upload the file again."
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{16}$")


class UploadExpired(NotFound):
    """The upload is older than KEEP: it is not imported, and its owner is told to upload it again."""

    def __init__(self):
        super().__init__(EXPIRED)


@dataclass(frozen=True)
class Upload:
    """An uploaded file kept for its owner between preview and confirmation (a detached copy of
    its row, so it outlives the dry run's rollback)."""

    id: str
    row_id: int
    filename: str
    size: int
    sha256: str
    uploaded_at: datetime
    content: bytes = field(repr=False)

    def read(self) -> bytes:
        """The file's bytes."""
        return self.content


# ---- Stored uploads -----------------------------------------------------------------------


def _upload(row: ImportUpload) -> Upload:
    """The handle of a stored upload row."""
    return Upload(id=row.token, row_id=row.id, filename=row.filename, size=row.meta["size"],
                  sha256=row.meta["sha256"], uploaded_at=row.created_at, content=row.content)


def _drop_oldest(user: User) -> None:
    """Delete the user's oldest uploads so that, with the one being added, at most MAX_PENDING wait."""
    keep = select(ImportUpload.id).where(ImportUpload.owner_id == user.id).order_by(
        ImportUpload.created_at.desc(), ImportUpload.id.desc()).limit(MAX_PENDING - 1)
    db.session.execute(delete(ImportUpload).where(ImportUpload.owner_id == user.id,
                                                  ImportUpload.id.not_in(keep.scalar_subquery())))


def store_upload(user: User, stream, filename: str | None) -> Upload:
    """Read an uploaded file (at most MAX_BYTES) and keep it for this user; returns its handle."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"This file is larger than {MAX_BYTES // (1024 * 1024)} MB. "
                              f"Split it into smaller files of at most {MAX_ROWS:,} rows.", status=413)
    if not data.strip():
        raise ImportFileError("Choose a CSV file to upload; this one is empty.")
    _drop_oldest(user)
    # Control characters (a NUL above all: PostgreSQL text refuses it) never reach the page.
    name = "".join(ch for ch in PurePath(filename or "").name if ch.isprintable())[:120] or "upload.csv"
    row = ImportUpload(token=secrets.token_urlsafe(12), owner_id=user.id, kind=KIND, filename=name,
                       meta={"size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
                       content=data, created_at=now_utc())
    db.session.add(row)
    db.session.flush()
    return _upload(row)


def get_upload(user: User, upload_id: str, *, lock: bool = False) -> Upload:
    """This user's stored upload, else NotFound (another user's id is not found either);
    UploadExpired past KEEP. `lock` holds its row (FOR UPDATE) until the transaction ends."""
    if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
        raise NotFound()
    query = select(ImportUpload).options(undefer(ImportUpload.content)).where(
        ImportUpload.token == upload_id, ImportUpload.owner_id == user.id, ImportUpload.kind == KIND)
    if lock:
        # A second confirmation waits here for the first; it then finds the row gone (404).
        query = query.with_for_update()
    row = db.session.scalars(query).one_or_none()
    if row is None:
        raise NotFound()
    if row.created_at <= now_utc() - KEEP:
        raise UploadExpired()
    upload = _upload(row)
    # Content that no longer matches its hash is not what the manager previewed.
    if hashlib.sha256(upload.content).hexdigest() != upload.sha256:
        raise NotFound()
    return upload


def import_upload(actor: User, upload: Upload) -> ImportResult:
    """Import a stored upload (locked by get_upload) and, when no row failed, delete it in the same
    transaction; the caller commits only when `ok`, so a failed import keeps the upload."""
    result = run_import(actor, upload.read())
    if result.ok:
        db.session.execute(delete(ImportUpload).where(ImportUpload.id == upload.row_id))
    return result


def sweep_expired(now: datetime | None = None) -> int:
    """Delete the uploads older than KEEP, whoever owns them, and commit; how many went."""
    cutoff = (now or now_utc()) - KEEP
    deleted = db.session.execute(delete(ImportUpload).where(ImportUpload.created_at <= cutoff)).rowcount
    db.session.commit()
    return deleted
