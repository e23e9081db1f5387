"""Import uploads live in the database, not on a host's disk (issue 16, item 5): a preview on one
web host and its confirmation on another work together, a confirmation imports once, uploads
expire after a day (the hourly sweep deletes them) and a user keeps at most MAX_PENDING."""

from __future__ import annotations

import io
import threading
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import IsolatedClient, browser_as
from tests.support.committed import in_threads
from tests.web._html import by_id, main_text
from webapp import create_app
from webapp.auth.models import Role
from webapp.commissions.periods import period_for
from webapp.extensions import db
from webapp.sales import imports
from webapp.sales.models import ImportUpload, Sale

TODAY = date(2031, 3, 12)  # far from other tests' dates: the race below commits its period
HEADER = "key,agent_email,sku,customer,quantity,unit_price,date,note"
WAIT = 10


def _world(factory, today) -> dict:
    """A manager, two of their agents on a 3% plan, a product and the open period of TODAY."""
    today(TODAY)
    manager = factory.user(Role.MANAGER)
    agents = [factory.user(Role.AGENT, manager=manager) for _ in range(2)]
    product = factory.product(sku=f"UP-{uuid.uuid4().hex[:6]}")
    for agent in agents:
        factory.assign(agent, factory.plan(base_rate="3", name=f"Uploads {uuid.uuid4().hex[:8]}"))
    period_for(TODAY)
    db.session.commit()
    return {"manager": manager, "agents": agents, "product": product}


def _csv(world: dict, rows: int = 3) -> bytes:
    """An import file of `rows` new sales for the world's agents, with keys of its own."""
    run = uuid.uuid4().hex[:8]
    lines = [HEADER] + [f"k{run}-{i:03d},{world['agents'][i % 2].email},{world['product'].sku},"
                        f"Upload customer {run},1,10.00,2031-03-05," for i in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def _upload(browser, content: bytes) -> str:
    """POST a file to the import page; the preview's path."""
    response = browser.post("/manage/imports", data={"file": (io.BytesIO(content), "sales.csv")},
                            token_from="/manage/imports", content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].split("sales.test", 1)[-1]


def _sales_of(manager) -> int:
    """How many sales `manager` entered."""
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Sale).where(Sale.entered_by_id == manager.id))


def _uploads() -> set[str]:
    """The tokens of every stored upload."""
    db.session.expire_all()
    return set(db.session.scalars(select(ImportUpload.token)))


def _age(token: str, by: timedelta) -> None:
    """Make a stored upload older than it is."""
    row = db.session.scalar(select(ImportUpload).where(ImportUpload.token == token))
    row.created_at -= by
    db.session.commit()


# --- two web hosts ----------------------------------------------------------------------------------

@pytest.fixture
def second_host(app, tmp_path, monkeypatch):
    """Another web process on another machine: its own instance folder (and IMPORT_DIR, the old
    setting), sharing only what docs/operations.md says hosts share (SECRET_KEY, the database)."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path / "host-a"))
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path / "host-a" / "imports"))
    other = create_app({
        "TESTING": True, "SECRET_KEY": app.config["SECRET_KEY"],
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "RATELIMIT_STORAGE_URI": "memory://", "OUTBOX_DIR": str(tmp_path / "host-b" / "outbox"),
        "IMPORT_DIR": str(tmp_path / "host-b" / "imports"), "SERVER_NAME": "sales.test",
    })
    other.instance_path = str(tmp_path / "host-b")
    other.test_client_class = IsolatedClient
    yield other
    with other.app_context():
        db.engine.dispose()


def test_a_preview_on_one_host_is_confirmed_on_another(app, second_host, factory, today, tmp_path):
    world = _world(factory, today)
    on_a = browser_as(app, world["manager"])
    url = _upload(on_a, _csv(world))
    # The browser's signed session cookie is all host B needs: no sticky sessions, no shared folder.
    on_b = browser_as(second_host, world["manager"])
    name = app.config["SESSION_COOKIE_NAME"]
    on_b.client.set_cookie(name, on_a.client.get_cookie(name, domain="sales.test").value, domain="sales.test")
    preview = on_b.get(url)
    assert preview.status_code == 200 and "3 new sales" in main_text(preview.get_data(as_text=True)).lower()
    assert on_b.post(url, token_from=url).status_code == 302
    assert _sales_of(world["manager"]) == 3
    assert on_a.get(url).status_code == 404  # gone for host A too
    assert not any(path.is_file() for path in tmp_path.rglob("*")), list(tmp_path.rglob("*"))


# --- one confirmation imports once --------------------------------------------------------------

def test_confirming_twice_imports_once_and_the_second_is_not_found(app, factory, today):
    world = _world(factory, today)
    browser = browser_as(app, world["manager"])
    url = _upload(browser, _csv(world))
    token = browser.token(url)
    assert browser.post(url, {"csrf_token": token}).status_code == 302
    assert browser.post(url, {"csrf_token": token}).status_code == 404
    assert _sales_of(world["manager"]) == 3


def test_an_import_with_row_errors_keeps_the_upload_for_another_try(app, factory, today):
    world = _world(factory, today)
    browser = browser_as(app, world["manager"])
    content = _csv(world) + b"bad-key!,nobody@example.com,NOPE,X,1,1.00,2031-03-05,\r\n"
    url = _upload(browser, content)
    assert browser.post(url, token_from=url).status_code == 422
    assert url.rsplit("/", 1)[1] in _uploads() and _sales_of(world["manager"]) == 0


def test_two_confirmations_at_once_import_once(app, factory, committed, today):
    world = _world(factory, today)
    upload = imports.store_upload(world["manager"], io.BytesIO(_csv(world, rows=20)), "race.csv")
    db.session.commit()
    url = f"/manage/imports/{upload.id}"
    browsers = [browser_as(app, world["manager"]) for _ in range(2)]
    tokens = [b.token(url) for b in browsers]
    start, statuses = threading.Barrier(2), [0, 0]

    def confirm(index: int, browser, token: str) -> None:
        """One click of the confirm button."""
        start.wait(WAIT)
        statuses[index] = browser.post(url, {"csrf_token": token}).status_code

    in_threads(confirm, list(zip(browsers, tokens)), WAIT)
    # Without the row lock both would run the import: one creating, the other skipping or 409.
    assert sorted(statuses) == [302, 404]
    assert _sales_of(world["manager"]) == 20
    assert upload.id not in _uploads()


# --- uploads are private to their owner ---------------------------------------------------------

def test_another_users_token_is_not_found_and_leaves_the_upload(app, factory, today):
    world = _world(factory, today)
    url = _upload(browser_as(app, world["manager"]), _csv(world))
    stranger = browser_as(app, factory.user(Role.MANAGER))
    assert stranger.get(url).status_code == 404
    assert stranger.post(url, token_from="/manage/imports").status_code == 404
    assert url.rsplit("/", 1)[1] in _uploads() and _sales_of(world["manager"]) == 0


# --- expiry, the sweep and the cap -------------------------------------------------------------

def test_an_expired_upload_is_refused_with_a_clear_message(app, factory, today):
    world = _world(factory, today)
    browser = browser_as(app, world["manager"])
    url = _upload(browser, _csv(world))
    token = browser.token(url)
    _age(url.rsplit("/", 1)[1], imports.KEEP)
    for response in (browser.get(url), browser.post(url, {"csrf_token": token})):
        assert response.status_code == 410
        error = by_id(response.get_data(as_text=True), "file-error")
        assert error is not None and "expired" in error.text and "Upload the file again" in error.text
    assert _sales_of(world["manager"]) == 0


def test_an_upload_just_under_a_day_old_still_imports(app, factory, today):
    world = _world(factory, today)
    browser = browser_as(app, world["manager"])
    url = _upload(browser, _csv(world))
    _age(url.rsplit("/", 1)[1], imports.KEEP - timedelta(minutes=1))
    assert browser.post(url, token_from=url).status_code == 302
    assert _sales_of(world["manager"]) == 3


def test_the_sweep_deletes_expired_uploads_only(app, factory):
    from jobs.imports import sweep_uploads

    owners = [factory.user(Role.MANAGER) for _ in range(2)]
    stored = [imports.store_upload(owner, io.BytesIO(b"key\n1\n"), "a.csv").id for owner in owners for _ in range(2)]
    db.session.commit()
    old, fresh = {stored[0], stored[2]}, {stored[1], stored[3]}
    for token in old:
        _age(token, imports.KEEP + timedelta(seconds=1))
    _age(stored[1], imports.KEEP - timedelta(minutes=1))
    assert sweep_uploads() == 2
    assert _uploads() & set(stored) == fresh
    assert sweep_uploads() == 0  # idempotent


def test_the_sweep_is_scheduled_hourly():
    from jobs.schedule import DECLARED

    job = next(job for job in DECLARED if job.name == "import-upload-sweep")
    assert (job.func, job.interval, job.queue) == ("jobs.imports.sweep_uploads", 60 * 60, "periodic")


def test_a_new_upload_beyond_the_cap_drops_the_owners_oldest(app, factory):
    owner, other = factory.user(Role.MANAGER), factory.user(Role.MANAGER)
    others = imports.store_upload(other, io.BytesIO(b"key\n1\n"), "theirs.csv").id
    mine = [imports.store_upload(owner, io.BytesIO(f"key\n{i}\n".encode()), f"{i}.csv").id
            for i in range(imports.MAX_PENDING + 2)]
    db.session.commit()
    assert _uploads() & set(mine) == set(mine[2:])
    assert others in _uploads()
    with pytest.raises(imports.NotFound):
        imports.get_upload(owner, mine[0])
    assert imports.get_upload(owner, mine[-1]).read() == f"key\n{imports.MAX_PENDING + 1}\n".encode()
