"""Owner-only files: what the product writes on disk (the secret key, the SQLite database, outbox
messages with their reset links and statement PDFs) is readable by the account that runs it and
no one else, whatever the process umask. Uploaded sales files are kept in the database instead.

Standard library only: webapp.config uses it before the app exists.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def _tighten(path: Path, mode: int) -> None:
    """Set `mode` on a path this process owns (someone else's is left as its owner set it)."""
    status = path.stat()
    if status.st_uid == os.geteuid() and status.st_mode & 0o777 != mode:
        os.chmod(path, mode)


def private_dir(path: str | Path) -> Path:
    """The folder `path`, made owner-only (0700) with any missing parents; an existing one of
    ours is tightened. Parents that already exist are left alone (they may be the user's home)."""
    path = Path(path)
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:  # another process made it meanwhile
            pass
    _tighten(path, DIR_MODE)
    for folder in missing:
        _tighten(folder, DIR_MODE)  # mkdir's mode passes through the umask; set it exactly
    return path


def write_private(path: str | Path, data: bytes | str, *, exclusive: bool = False) -> Path:
    """Write `data` (text as UTF-8) to `path` as an owner-only file (0600), replacing its content.

    `exclusive` refuses an existing file (FileExistsError), for files made once. The file is
    never created readable by others, not even for a moment, and a symlink planted at `path`
    is not followed."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    if exclusive:
        flags |= os.O_EXCL
    fd = os.open(path, flags, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), FILE_MODE)  # an existing file keeps its mode through O_TRUNC
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def create_private_file(path: str | Path) -> bool:
    """Create `path` empty and owner-only unless it exists (True when created here), so a program
    that opens it later (SQLite) finds it with 0600 instead of creating it with the umask's mode."""
    try:
        write_private(path, b"", exclusive=True)
    except FileExistsError:
        return False
    return True
