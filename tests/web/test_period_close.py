"""Period close by a manager or admin (issue 5, item 9): the list, what will be frozen, the close."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.conftest import browser_as
from tests.web._html import html_of, main_text
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role
from webapp.commissions.models import CommissionEntry, Period
from webapp.commissions.periods import period_for
from webapp.extensions import db
from webapp.sales import services as sales

TODAY = date(2026, 11, 20)


@pytest.fixture
def world(build, factory):
    """Team A (Ann) and team B (Bob) on 3%; approved and pending sales in Nov 1-15 and Nov 16-30."""
    build.on(TODAY)
    manager_a, (ann,) = build.team("Maria Manager", "Ann Agent")
    manager_b, (bob,) = build.team(None, "Bob Agent")
    sales_made = {
        "ann_1": factory.sale(ann, "1000.00", date(2026, 11, 3)),
        "ann_2": factory.sale(ann, "500.00", date(2026, 11, 14)),
        "ann_pending": factory.sale(ann, "250.00", date(2026, 11, 10), approve=False),
        "bob_1": factory.sale(bob, "2000.00", date(2026, 11, 5)),
        "bob_pending": factory.sale(bob, "777.00", date(2026, 11, 6), approve=False),
        "ann_later": factory.sale(ann, "300.00", date(2026, 11, 17)),
    }
    first, second = period_for(date(2026, 11, 1)), period_for(date(2026, 11, 16))
    return {"manager_a": manager_a, "manager_b": manager_b, "ann": ann, "bob": bob, "first": first,
            "second": second, **sales_made}


def _status(period_id: int) -> str:
    """A period's stored status, read fresh."""
    db.session.expire_all()
    return db.session.get(Period, period_id).status


# --- the list -------------------------------------------------------------------------------------

def test_periods_list_newest_first_with_status_and_the_next_to_close(app, world):
    response = browser_as(app, world["manager_a"]).get("/manage/periods")
    assert response.status_code == 200
    text = main_text(html_of(response))
    assert text.index("Nov 16–30, 2026") < text.index("Nov 1–15, 2026")
    html = response.get_data(as_text=True)
    assert f'href="/manage/periods/{world["first"].id}/close"' in html
    assert "Review and close Nov 1–15, 2026" in text
    assert "In progress" in text and "Ends Nov 30" in text
    assert "Ended · open" in text
    # Your team's figures: Ann's two lines (30.00 + 15.00), not Bob's.
    assert "$45.00" in text and "$60.00" not in text


def test_agents_cannot_see_or_close_periods(app, world):
    agent = browser_as(app, world["ann"])
    assert agent.get("/manage/periods").status_code == 403
    assert agent.get(f"/manage/periods/{world['first'].id}/close").status_code == 403
    assert agent.post(f"/manage/periods/{world['first'].id}/close", token_from="/dashboard").status_code == 403
    assert _status(world["first"].id) == "open"


# --- the preview ----------------------------------------------------------------------------------

def test_preview_shows_the_managers_team_what_freezes_and_the_late_approvals(app, world):
    response = browser_as(app, world["manager_a"]).get(f"/manage/periods/{world['first'].id}/close")
    assert response.status_code == 200
    text = main_text(html_of(response))
    assert "Closing applies to every team, not only yours." in text
    assert "Ann Agent 2 $45.00 $1,500.00 1 · $250.00" in text
    assert "Bob Agent" not in text and "$777.00" not in text
    assert "Pending sales that become late approvals" in text
    assert f"Sale #{world['ann_pending'].id}" in text
    assert "Close Nov 1–15, 2026" in text
    assert "The grace time has not passed" not in text  # it ended Nov 15; two days have gone by


def test_admins_see_every_team_in_the_preview(app, world, factory):
    response = browser_as(app, factory.user(Role.ADMIN)).get(f"/manage/periods/{world['first'].id}/close")
    text = main_text(html_of(response))
    assert "Ann Agent 2 $45.00 $1,500.00 1 · $250.00" in text
    assert "Bob Agent 1 $60.00 $2,000.00 1 · $777.00" in text
    assert "Total 3 $105.00 $3,500.00 2" in text
    assert "not only yours" not in text


def test_preview_of_an_unknown_period_is_404(app, world):
    assert browser_as(app, world["manager_a"]).get("/manage/periods/999999/close").status_code == 404


def test_preview_warns_while_the_grace_time_runs(app, world, today):
    today(date(2026, 11, 16))  # Nov 1-15 ended last night; the default grace is 48 hours
    text = main_text(html_of(browser_as(app, world["manager_a"]).get(f"/manage/periods/{world['first'].id}/close")))
    assert "The grace time has not passed" in text and "2026-11-18 at 00:00" in text
    today(date(2026, 11, 18))
    text = main_text(html_of(browser_as(app, world["manager_a"]).get(f"/manage/periods/{world['first'].id}/close")))
    assert "The grace time has not passed" not in text


# --- closing --------------------------------------------------------------------------------------

def test_a_manager_closes_an_ended_period_and_it_is_audited(app, world):
    browser = browser_as(app, world["manager_a"])
    url = f"/manage/periods/{world['first'].id}/close"
    response = browser.post(url)
    assert response.status_code == 302 and response.headers["Location"].endswith("/manage/periods")
    db.session.expire_all()
    period = db.session.get(Period, world["first"].id)
    assert period.status == "closed" and period.closed_by_id == world["manager_a"].id and period.closed_at
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "period.close"))
    assert (event.actor_id, event.object_type, event.object_id) == (world["manager_a"].id, "Period", period.id)
    assert (event.before, event.after) == ({"status": "open"}, {"status": "closed"})
    page = main_text(html_of(browser.get("/manage/periods")))
    assert "Nov 1–15, 2026 is closed" in page and "by Maria Manager" in page


def test_a_closed_periods_pending_sale_is_still_decided_as_a_late_approval(app, world):
    browser_as(app, world["manager_a"]).post(f"/manage/periods/{world['first'].id}/close")
    db.session.expire_all()
    sale = db.session.get(type(world["ann_pending"]), world["ann_pending"].id)
    sales.approve_sale(world["manager_a"], sale)
    entry = db.session.scalar(select(CommissionEntry).where(CommissionEntry.sale_id == sale.id))
    assert entry.period_id == world["second"].id and entry.amount_cents == 750


def test_closing_a_period_that_has_not_ended_is_409(app, world):
    url = f"/manage/periods/{world['second'].id}/close"
    response = browser_as(app, world["manager_a"]).post(url)
    assert response.status_code == 409
    assert "Nov 16–30, 2026 has not ended yet." in main_text(html_of(response))
    assert _status(world["second"].id) == "open"


def test_closing_a_closed_period_again_is_409(app, world, factory):
    browser = browser_as(app, world["manager_a"])
    url = f"/manage/periods/{world['first'].id}/close"
    browser.post(url)
    events = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "period.close"))
    other = browser_as(app, factory.user(Role.ADMIN))
    response = other.post(url, token_from="/manage/periods")
    assert response.status_code == 409
    assert "Nov 1–15, 2026 is already closed." in main_text(html_of(response))
    db.session.expire_all()
    assert db.session.get(Period, world["first"].id).closed_by_id == world["manager_a"].id
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "period.close")) == events


def test_periods_close_in_order(app, world, factory, today):
    today(date(2026, 10, 20))
    october = factory.sale(world["ann"], "100.00", date(2026, 10, 20))
    today(TODAY)
    earlier = period_for(october.sold_on)
    response = browser_as(app, world["manager_a"]).post(f"/manage/periods/{world['first'].id}/close")
    assert response.status_code == 409
    assert f"Close {earlier.label} first: periods close in order." in main_text(html_of(response))
    assert _status(world["first"].id) == "open" and _status(earlier.id) == "open"
    listing = main_text(html_of(browser_as(app, world["manager_a"]).get("/manage/periods")))
    assert f"Close {earlier.label} first" in listing


def test_closing_needs_the_forms_csrf_token(app, world):
    client = browser_as(app, world["manager_a"]).client
    response = client.post(f"/manage/periods/{world['first'].id}/close")
    assert response.status_code == 400
    assert _status(world["first"].id) == "open"


def test_admins_close_too(app, world, factory):
    admin = factory.user(Role.ADMIN)
    response = browser_as(app, admin).post(f"/manage/periods/{world['first'].id}/close")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Period, world["first"].id).closed_by_id == admin.id
