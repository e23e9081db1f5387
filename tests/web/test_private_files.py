"""Files the product writes (outbox messages with reset links and statement PDFs, CSV uploads, the
secret key, the SQLite database) are owner-only: 0600 files in 0700 folders, whatever the umask
(issue 12)."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from webapp import _create_private_sqlite_file, create_app
from webapp.config import load_config
from webapp.extensions import db
from webapp.mail.messages import Attachment, EmailMessage
from webapp.mail.outbox import OutboxBackend
from webapp.private_files import private_dir, write_private
from webapp.sales import imports


def mode(path: Path) -> int:
    """The permission bits of a path."""
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o000], ids=["umask-022", "umask-000"])
def permissive_umask(request):
    """A umask that would let others read (0o022) or even write (0o000) what is created."""
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def assert_private_tree(root: Path) -> list[Path]:
    """Every folder under `root` (itself included) is 0700 and every file 0600; returns the files."""
    assert mode(root) == 0o700, root
    files = []
    for path in root.rglob("*"):
        if path.is_dir():
            assert mode(path) == 0o700, path
        else:
            assert mode(path) == 0o600, path
            files.append(path)
    return files


def test_outbox_messages_and_statement_copies_are_owner_only(tmp_path, permissive_umask):
    outbox = OutboxBackend(tmp_path / "instance" / "outbox")
    result = outbox.send(EmailMessage(
        to="agent@example.com", subject="Reset your password",
        text="Open https://sales.test/password/reset/secret-token", html="<p>reset link</p>",
        attachments=(Attachment("statement-7.pdf", "application/pdf", b"%PDF-1.7 statement"),)))
    files = assert_private_tree(tmp_path / "instance" / "outbox")
    assert {f.name for f in files} == {"statement-7.pdf", "body.txt", "body.html", "message.json"}
    assert mode(tmp_path / "instance") == 0o700  # made by the outbox: a missing parent is private too
    assert outbox.get(result.provider_id).text.endswith("secret-token")


def test_an_existing_outbox_folder_of_ours_is_tightened(tmp_path, permissive_umask):
    folder = tmp_path / "outbox"
    folder.mkdir()
    folder.chmod(0o755)
    OutboxBackend(folder).send(EmailMessage(to="a@example.com", subject="s", text="t"))
    assert_private_tree(folder)


def test_csv_uploads_are_kept_in_the_database_not_on_disk(app, factory, tmp_path, monkeypatch, permissive_umask):
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path / "imports"))  # the old setting is ignored
    manager = factory.user("manager")
    upload = imports.store_upload(manager, io.BytesIO(b"key,agent_email\n1,a@example.com\n"), "sales.csv")
    assert not (tmp_path / "imports").exists() and list(tmp_path.iterdir()) == []
    assert imports.get_upload(manager, upload.id).read() == b"key,agent_email\n1,a@example.com\n"


def test_the_generated_secret_key_is_owner_only(tmp_path, permissive_umask):
    instance = tmp_path / "instance"
    config = load_config({}, instance)
    assert [p.name for p in assert_private_tree(instance)] == ["secret_key"]
    assert (instance / "secret_key").read_text() == config["SECRET_KEY"]
    assert load_config({}, instance)["SECRET_KEY"] == config["SECRET_KEY"]  # made once, then read


def test_the_default_sqlite_database_and_its_folder_are_owner_only(tmp_path, permissive_umask):
    instance = tmp_path / "instance"
    database = instance / "sales.db"
    _create_private_sqlite_file(str(database), instance)
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:  # WAL mode: SQLite adds -wal and -shm files beside it
        connection.execute(text("PRAGMA journal_mode=WAL"))
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
        assert {p.name for p in assert_private_tree(instance)} == {"sales.db", "sales.db-wal", "sales.db-shm"}
    engine.dispose()


def test_the_app_creates_its_sqlite_database_owner_only(tmp_path, monkeypatch, permissive_umask):
    import fakeredis

    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    database = folder / "fresh.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "REDIS_CLIENT": fakeredis.FakeRedis(),
                      "RATELIMIT_STORAGE_URI": "memory://", "TESTING": True})
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        db.engine.dispose()
    assert mode(database) == 0o600
    assert all(mode(p) == 0o600 for p in folder.iterdir()), {p.name: oct(mode(p)) for p in folder.iterdir()}


def test_the_helpers_set_exact_modes_on_existing_files_and_refuse_symlinks(tmp_path, permissive_umask):
    existing = tmp_path / "old.txt"
    existing.write_text("old")
    existing.chmod(0o644)
    write_private(existing, "new")
    assert (mode(existing), existing.read_text()) == (0o600, "new")
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep")
    (tmp_path / "link.txt").symlink_to(target)
    with pytest.raises(OSError):
        write_private(tmp_path / "link.txt", "planted")
    assert target.read_text() == "keep"
    nested = private_dir(tmp_path / "a" / "b" / "c")
    assert [mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", nested)] == [0o700] * 3
