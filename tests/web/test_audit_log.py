"""The audit log page for admins (issue 5, item 8): filters, newest first, pages, readable diffs."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from tests.conftest import browser_as
from tests.web._html import by_id, tags
from webapp.audit.queries import diff
from webapp.audit.models import AuditEvent
from webapp.audit.services import record
from webapp.auth.models import Role
from webapp.extensions import db


class _Thing:
    """An object to audit (its class name is the object type)."""

    def __init__(self, object_id):
        """An object with this id."""
        self.id = object_id


class Widget(_Thing):
    """Object type "Widget"."""


class Gizmo(_Thing):
    """Object type "Gizmo"."""


def _event(actor, action, obj, before=None, after=None, at=None) -> AuditEvent:
    """An audit event at a chosen time."""
    event = record(actor, action, obj, before, after)
    if at is not None:
        event.at = at
    db.session.flush()
    return event


def _rows(response) -> list[list[str]]:
    """The log's rows as cell texts: When, Actor, Action, Object, Changes (nested diffs stay in their cell)."""
    page = tags(response.get_data(as_text=True))

    def nearest(tag, name):
        """The closest enclosing tag called `name`."""
        return next((a for a in reversed(tag.ancestors) if a.name == name), None)

    table = next(t for t in page if t.name == "table" and "audit-table" in (t.attrs.get("class") or ""))
    rows = [t for t in page if t.name == "tr" and nearest(t, "table") is table and nearest(t, "tbody")]
    def cell(td):
        """A cell's text."""
        # A changes cell holds a diff table: its rows, without the table's hidden caption and headings.
        inner = [r for r in page if r.name == "tr" and nearest(r, "td") is td
                 and next(a for a in reversed(r.ancestors) if a.name in ("thead", "tbody")).name == "tbody"]
        parts = [r.text for r in inner] if inner else [td.text]
        return " ".join(" ".join(parts).split())

    return [[cell(td) for td in page if td.name == "td" and nearest(td, "tr") is row]
            for row in rows if not any(td.attrs.get("class") == "empty" for td in page if nearest(td, "tr") is row)]


@pytest.fixture
def log(factory):
    """A manager, an agent and a few events at known times (UTC)."""
    manager = factory.user(Role.MANAGER, name="Maria Manager")
    agent = factory.user(Role.AGENT, manager=manager, name="Ann Agent")
    db.session.query(AuditEvent).delete()  # only this test's events
    events = {
        "create": _event(agent, "widget.create", Widget(7), None, {"name": "First", "price_cents": 125000},
                         at=datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)),
        "rename": _event(manager, "widget.update", Widget(7), {"name": "First", "price_cents": 125000, "active": True},
                         {"name": "Second", "price_cents": 125000, "active": False},
                         at=datetime(2026, 11, 2, 23, 30, tzinfo=timezone.utc)),
        "system": _event(None, "gizmo.sweep", Gizmo(3), {"count": 2}, {"count": 0},
                         at=datetime(2026, 11, 3, 4, 0, tzinfo=timezone.utc)),
        "other": _event(manager, "widget.update", Widget(8), {"rate_units": 30000}, {"rate_units": 21250},
                        at=datetime(2026, 11, 4, 12, 0, tzinfo=timezone.utc)),
    }
    return {"manager": manager, "agent": agent, **events}


@pytest.fixture
def admin(app, factory):
    """An admin's browser."""
    return browser_as(app, factory.user(Role.ADMIN, name="Ada Admin"))


def test_only_admins_see_the_audit_log(app, log, factory):
    assert browser_as(app, log["manager"]).get("/admin/audit").status_code == 403
    assert browser_as(app, log["agent"]).get("/admin/audit").status_code == 403
    assert browser_as(app, factory.user(Role.ADMIN)).get("/admin/audit").status_code == 200


def test_audit_log_is_in_the_admin_navigation(admin, app, log):
    html = admin.get("/admin/audit").get_data(as_text=True)
    assert '<a href="/admin/audit" aria-current="page">Audit log</a>' in html
    manager_page = browser_as(app, log["manager"]).get("/").get_data(as_text=True)
    assert "/admin/audit" not in manager_page


def test_events_newest_first_with_actor_action_object_and_changes(admin, log):
    rows = _rows(admin.get("/admin/audit"))
    assert [r[2] for r in rows] == ["widget.update", "gizmo.sweep", "widget.update", "widget.create"]
    assert [r[1] for r in rows] == ["Maria Manager", "System", "Maria Manager", "Ann Agent"]
    assert [r[3] for r in rows] == ["Widget #8", "Gizmo #3", "Widget #7", "Widget #7"]
    assert rows[3][0] == "2026-11-01 09:00:00"


def test_changes_show_only_the_keys_that_changed_readably(admin, log):
    rows = _rows(admin.get("/admin/audit"))
    rename = rows[2][4]
    assert "name First → Second" in rename and "active yes → no" in rename
    assert "price_cents" not in rename  # unchanged
    assert rows[3][4] == "name First price_cents $1,250.00"  # a creation lists the fields it set
    assert rows[0][4] == "rate_units 3% → 2.125%"


def test_diff_helper_marks_added_removed_and_changed_keys():
    changes = diff({"a": 1, "b": "x", "gone": True, "was_empty": None},
                   {"a": 2, "b": "x", "new": "y", "empty": None, "cleared_cents": None})
    assert [(c.key, c.kind, c.before, c.after) for c in changes] == [
        ("a", "changed", "1", "2"), ("new", "added", "—", "y"), ("gone", "removed", "yes", "—")]
    assert diff({"note": "hi"}, {"note": None})[0].after_empty
    assert diff({"amount_cents": None}, {"amount_cents": 5})[0].before_empty
    assert diff(None, None) == []
    assert diff({"same": 1}, {"same": 1}) == []


@pytest.mark.parametrize("query, expected", [
    ({"action": "widget.update"}, ["Widget #8", "Widget #7"]),
    ({"object_type": "Gizmo"}, ["Gizmo #3"]),
    ({"object_type": "Widget", "object_id": "7"}, ["Widget #7", "Widget #7"]),
    ({"object_id": "8"}, ["Widget #8"]),
    ({"actor": "system"}, ["Gizmo #3"]),
    ({"start": "2026-11-02", "end": "2026-11-03"}, ["Gizmo #3", "Widget #7"]),
    ({"end": "2026-11-01"}, ["Widget #7"]),
    ({"start": "2026-11-04"}, ["Widget #8"]),
    ({"action": "widget.update", "start": "2026-11-03"}, ["Widget #8"]),
])
def test_filters(admin, log, query, expected):
    response = admin.get("/admin/audit", query_string=query)
    assert response.status_code == 200
    assert [r[3] for r in _rows(response)] == expected


def test_actor_filter_by_user(admin, log):
    manager_only = _rows(admin.get("/admin/audit", query_string={"actor": str(log["manager"].id)}))
    assert [r[1] for r in manager_only] == ["Maria Manager", "Maria Manager"]
    agent_only = _rows(admin.get("/admin/audit", query_string={"actor": str(log["agent"].id)}))
    assert [r[2] for r in agent_only] == ["widget.create"]


def test_date_range_is_read_in_the_installation_time_zone(admin, app, log, monkeypatch):
    monkeypatch.setitem(app.config, "TIMEZONE", "America/New_York")
    # 2026-11-02 23:30 UTC is 18:30 on Nov 2 in New York; 2026-11-03 04:00 UTC is 23:00 on Nov 2.
    rows = _rows(admin.get("/admin/audit", query_string={"start": "2026-11-02", "end": "2026-11-02"}))
    assert [r[3] for r in rows] == ["Gizmo #3", "Widget #7"]
    assert rows[0][0] == "2026-11-02 23:00:00"


def test_filter_selects_offer_users_object_types_and_known_actions(admin, log):
    html = admin.get("/admin/audit").get_data(as_text=True)
    page = tags(html)
    options = {name: [o.attrs.get("value") for o in page if o.name == "option"
                      and any(a.attrs.get("id") == name for a in o.ancestors)]
               for name in ("actor", "object_type", "action")}
    assert options["action"] == ["", "gizmo.sweep", "widget.create", "widget.update"]
    assert options["object_type"] == ["", "Gizmo", "Widget"]
    assert {"", "system", str(log["manager"].id), str(log["agent"].id)} <= set(options["actor"])
    for field in ("actor", "object_type", "object_id", "action", "start", "end"):
        assert f'<label for="{field}"' in html, field


@pytest.mark.parametrize("query, field, message", [
    ({"object_id": "seven"}, "object_id", "whole number"),
    ({"start": "02/11/2026"}, "start", "YYYY-MM-DD"),
    ({"start": "2026-11-03", "end": "2026-11-01"}, "end", "cannot be before"),
    ({"actor": "someone"}, "actor", "Choose an actor"),
])
def test_bad_filters_are_field_errors(admin, log, query, field, message):
    response = admin.get("/admin/audit", query_string=query)
    assert response.status_code == 422
    error = by_id(response.get_data(as_text=True), f"{field}-error")
    assert error is not None and message in error.text


def test_pages_of_fifty(admin, log):
    for number in range(60):
        _event(None, "bulk.event", Gizmo(1000 + number), at=datetime(2026, 10, 1, 0, number % 60, tzinfo=timezone.utc))
    first = admin.get("/admin/audit")
    assert len(_rows(first)) == 50
    text = first.get_data(as_text=True)
    assert "64 events · page 1 of 2" in text
    assert 'href="/admin/audit?page=2"' in text
    second = admin.get("/admin/audit", query_string={"page": 2})
    assert len(_rows(second)) == 14
    assert _rows(second)[-1][3] == "Gizmo #1000"  # the oldest event comes last
    filtered = admin.get("/admin/audit", query_string={"action": "bulk.event", "page": 2})
    assert len(_rows(filtered)) == 10
    assert "action=bulk.event" in filtered.get_data(as_text=True)


def test_htmx_filtering_with_a_bad_filter_names_it_above_the_table(admin, log):
    response = admin.get("/admin/audit", query_string={"object_id": "x"},
                         headers={"HX-Request": "true", "HX-Target": "audit-table"})
    assert response.status_code == 422
    text = " ".join(response.get_data(as_text=True).split())
    assert "Some filters could not be read and were left out: Object id: Enter the object&#39;s id" in text
    assert "Some filters could not be read" not in admin.get("/admin/audit", query_string={"object_id": "x"}).get_data(as_text=True)


def test_htmx_filtering_returns_only_the_table(admin, log):
    response = admin.get("/admin/audit", query_string={"action": "gizmo.sweep"},
                         headers={"HX-Request": "true", "HX-Target": "audit-table"})
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="audit-table">')
    assert "<html" not in html and "gizmo.sweep" in html


def test_objects_with_a_page_are_linked(admin, factory, log):
    agent = log["agent"]
    sale = factory.sale(agent, "100.00", date(2026, 11, 5), approve=False)
    db.session.flush()  # the audit event is only added to the session by the service
    html = admin.get("/admin/audit", query_string={"object_type": "Sale"}).get_data(as_text=True)
    assert f'<a href="/sales/{sale.id}">Sale #{sale.id}</a>' in html
