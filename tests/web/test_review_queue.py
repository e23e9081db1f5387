"""The review queue (issue 5, item 1): who sees which sales, order, filters, flags, counters,
inline and bulk approve / reject (htmx and plain forms), refusals, CSRF."""

from __future__ import annotations

import re
import statistics
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from tests.support.rows import reload, sql_statements
from tests.web._html import by_id, by_testid, field_error, html_of, tags, text_of, within
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role
from webapp.commissions import ledger
from webapp.commissions.models import CommissionEntry, EntryKind
from webapp.commissions.periods import close_period, period_for
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.manage import queue, queue_flags
from webapp.sales import portal
from webapp.sales import services as sales
from webapp.sales.models import Sale

TODAY = date(2026, 11, 20)
TABLE = {"HX-Request": "true", "HX-Target": "queue-table"}
ROW = {"HX-Request": "true"}


# --- helpers --------------------------------------------------------------------------------------

def _row_ids(html: str) -> list[int]:
    """Sale ids of the queue rows still waiting for a decision, top to bottom."""
    return [int(m) for m in re.findall(r'<tr id="sale-row-(\d+)" class="queue-row', html)]


def _triggers(response) -> set[str]:
    """The events named in the HX-Trigger header."""
    return {name.strip() for name in response.headers["HX-Trigger"].split(",")}


def _row(html: str, sale: Sale):
    """The queue row of a sale, or None."""
    return by_id(html, f"sale-row-{sale.id}")


def _flags(html: str, sale: Sale) -> set[str]:
    """The flag kinds shown on a sale's row."""
    page = tags(html)
    row = next((t for t in page if t.attrs.get("id") == f"sale-row-{sale.id}"), None)
    assert row is not None, f"sale {sale.id} is not in the queue"
    return {t.attrs["data-flag"] for t in within(row, page) if "data-flag" in t.attrs}


def _state() -> dict:
    """What a decision writes: sale statuses, ledger entries, audit events, emails."""
    db.session.expire_all()
    return {
        "statuses": dict(db.session.execute(select(Sale.id, Sale.status)).all()),
        "entries": db.session.scalar(select(func.count()).select_from(CommissionEntry)),
        "audit": db.session.scalar(select(func.count()).select_from(AuditEvent)),
        "emails": db.session.scalar(select(func.count()).select_from(OutgoingEmail)),
    }


@pytest.fixture(autouse=True)
def _frozen_today(today):
    """Every test runs on TODAY."""
    today(TODAY)


@pytest.fixture
def team(as_manager, build, factory):
    """The signed-in manager's team (two agents on a flat 3% plan), a product and a customer."""
    manager, (alice, bob) = build.team(as_manager.user, "Alice Agent", "Bob Agent")
    product = factory.product(name="Patient monitor")
    customer = factory.customer("Northwind Clinics")

    def pending(agent, amount: str, sold_on: date, **kwargs) -> Sale:
        """A pending sale of one of the team's agents (or decided as `status` says)."""
        kwargs.setdefault("product", product)
        kwargs.setdefault("customer", customer)
        kwargs.setdefault("status", "pending")
        return factory.sale(agent, amount, sold_on, **kwargs)

    return SimpleNamespace(manager=manager, alice=alice, bob=bob, plan=build.plan, product=product,
                           customer=customer, sale=pending)


@pytest.fixture
def other_team(build, factory, team):
    """Another manager's agent (on the same plan) with a pending sale."""
    _, (outsider,) = build.team("Other Manager", "Olga Outsider")
    sale = factory.sale(outsider, "500.00", date(2026, 11, 2), product=team.product, customer=team.customer,
                        approve=False)
    return outsider, sale


# --- who sees what, and in which order ---------------------------------------------------------------

def test_queue_lists_the_teams_pending_sales_oldest_first(as_manager, team, other_team):
    later = team.sale(team.alice, "100.00", date(2026, 11, 10))
    earliest = team.sale(team.bob, "200.00", date(2026, 11, 3))
    same_day_second = team.sale(team.alice, "300.00", date(2026, 11, 10))
    decided = team.sale(team.alice, "400.00", date(2026, 11, 1), status="approved")
    rejected = team.sale(team.bob, "400.00", date(2026, 11, 1), status="rejected")
    _outsider, foreign = other_team

    response = as_manager.get("/manage/review")
    assert response.status_code == 200
    html = html_of(response)
    assert _row_ids(html) == [earliest.id, later.id, same_day_second.id]  # (sold_on, id)
    for hidden in (decided, rejected, foreign):
        assert _row(html, hidden) is None
    assert "Olga Outsider" not in html
    row = text_of(_row(html, earliest))
    assert "Bob Agent" in row and "Patient monitor" in row and "Northwind Clinics" in row and "$200.00" in row
    assert "17 days ago" in row


def test_admin_sees_every_teams_pending_sales(as_admin, team, other_team):
    mine = team.sale(team.alice, "100.00", date(2026, 11, 10))
    _outsider, foreign = other_team
    ids = _row_ids(html_of(as_admin.get("/manage/review")))
    assert mine.id in ids and foreign.id in ids


def test_agents_cannot_open_the_queue(as_agent):
    assert as_agent.get("/manage/review").status_code == 403
    assert as_agent.post("/manage/review/bulk", {"sale_ids": "1", "action": "approve"},
                         token_from="/dashboard").status_code == 403


def test_navigation_offers_review_to_managers_and_admins_only(as_manager, as_admin, as_agent):
    for browser in (as_manager, as_admin):
        nav = next(t for t in tags(html_of(browser.get("/manage/review"))) if t.name == "nav")
        assert "Review" in text_of(nav)
    assert 'href="/manage/review"' not in html_of(as_agent.get("/dashboard"))


def test_another_teams_sale_is_404_and_unchanged(as_manager, team, other_team):
    _outsider, foreign = other_team
    before = _state()
    for action, data in (("approve", {}), ("reject", {"reason": "No"})):
        response = as_manager.post(f"/manage/review/{foreign.id}/{action}", data, token_from="/manage/review")
        assert response.status_code == 404
        response = as_manager.post(f"/manage/review/{foreign.id}/{action}", data, token_from="/manage/review",
                                   headers=ROW)
        assert response.status_code == 404
    assert as_manager.post("/manage/review/999999/approve", token_from="/manage/review").status_code == 404
    assert _state() == before


# --- filters and pages -------------------------------------------------------------------------------

def test_filter_by_agent_and_by_product(as_manager, team, factory):
    other_product = factory.product(name="Walk-in cooler")
    a1 = team.sale(team.alice, "100.00", date(2026, 11, 3))
    b1 = team.sale(team.bob, "100.00", date(2026, 11, 4))
    a2 = team.sale(team.alice, "100.00", date(2026, 11, 5), product=other_product)
    assert _row_ids(html_of(as_manager.get(f"/manage/review?agent_id={team.alice.id}"))) == [a1.id, a2.id]
    assert _row_ids(html_of(as_manager.get(f"/manage/review?product_id={other_product.id}"))) == [a2.id]
    both = f"/manage/review?agent_id={team.alice.id}&product_id={team.product.id}"
    assert _row_ids(html_of(as_manager.get(both))) == [a1.id]
    assert _row_ids(html_of(as_manager.get("/manage/review?agent_id=junk"))) == [a1.id, b1.id, a2.id]


def test_filter_by_date_range_is_inclusive(as_manager, team):
    s = [team.sale(team.alice, "100.00", date(2026, 11, day)) for day in (2, 5, 9, 12)]
    html = html_of(as_manager.get("/manage/review?start=2026-11-05&end=2026-11-09"))
    assert _row_ids(html) == [s[1].id, s[2].id]
    assert "2 pending sales match these filters" in text_of(by_id(html, "queue-summary"))
    assert _row_ids(html_of(as_manager.get("/manage/review?start=2026-11-10"))) == [s[3].id]


def test_filter_by_amount_range_is_exact_to_the_cent(as_manager, team):
    low = team.sale(team.alice, "100.09", date(2026, 11, 2))
    edge = team.sale(team.alice, "100.10", date(2026, 11, 3))
    mid = team.sale(team.alice, "250.00", date(2026, 11, 4))
    top = team.sale(team.alice, "250.01", date(2026, 11, 5))
    html = html_of(as_manager.get("/manage/review?min_amount=100.10&max_amount=250"))
    assert _row_ids(html) == [edge.id, mid.id]
    assert _row_ids(html_of(as_manager.get("/manage/review?max_amount=100.09"))) == [low.id]
    assert _row_ids(html_of(as_manager.get("/manage/review?min_amount=250.01"))) == [top.id]


@pytest.mark.parametrize("field, value, message", [
    ("min_amount", "1.234", "Use at most two decimals."),
    ("max_amount", "-5", "Enter an amount that is not negative."),
    ("min_amount", "1e3", "Enter an amount as a plain number, like 1250.50."),
    ("max_amount", "NaN", "Enter an amount as a plain number, like 1250.50."),
])
def test_a_bad_amount_filter_is_422_beside_its_field_and_ignored(as_manager, team, field, value, message):
    sale = team.sale(team.alice, "100.00", date(2026, 11, 2))
    response = as_manager.get(f"/manage/review?{field}={value}")
    assert response.status_code == 422
    html = html_of(response)
    assert field_error(html, field) == message
    assert _row_ids(html) == [sale.id]
    # The table partial (htmx) carries the message out of band, to the field's error line.
    response = as_manager.get(f"/manage/review?{field}={value}", headers=TABLE)
    assert response.status_code == 422
    html = html_of(response)
    assert "<html" not in html and _row_ids(html) == [sale.id]
    oob = next(t for t in tags(html) if t.attrs.get("id") == f"{field}-error")
    assert oob.attrs.get("hx-swap-oob") == "true" and text_of(oob) == message


def test_max_below_min_and_end_before_start_are_refused(as_manager, team):
    team.sale(team.alice, "100.00", date(2026, 11, 2))
    html = html_of(as_manager.get("/manage/review?min_amount=50&max_amount=10"))
    assert field_error(html, "max_amount") == "Enter a maximum at least the minimum."
    response = as_manager.get("/manage/review?start=2026-11-10&end=2026-11-01")
    assert response.status_code == 422
    assert field_error(html_of(response), "end") == "Enter a date on or after From."


def test_htmx_filter_answers_only_the_table(as_manager, team):
    sale = team.sale(team.alice, "100.00", date(2026, 11, 2))
    response = as_manager.get(f"/manage/review?agent_id={team.alice.id}", headers=TABLE)
    assert response.status_code == 200
    html = html_of(response)
    assert "<html" not in html and html.lstrip().startswith('<div id="queue-table">')
    assert _row_ids(html) == [sale.id]
    # Without the errors of a refused filter, the out-of-band error lines are cleared.
    assert field_error(html, "min_amount") == ""


def test_pages_of_twenty_five(as_manager, team):
    made = [team.sale(team.alice if n % 2 else team.bob, "10.00", date(2026, 11, 1) + timedelta(days=n % 19))
            for n in range(queue.PAGE_SIZE + 2)]
    expected = [s.id for s in sorted(made, key=lambda s: (s.sold_on, s.id))]
    first = html_of(as_manager.get("/manage/review"))
    second = html_of(as_manager.get("/manage/review?page=2"))
    assert _row_ids(first) == expected[:25] and _row_ids(second) == expected[25:]
    assert "page 1 of 2" in text_of(by_id(first, "queue-summary"))
    assert _row_ids(html_of(as_manager.get("/manage/review?page=99"))) == expected[25:]


# --- flags -------------------------------------------------------------------------------------------

def test_no_plan_flag_matches_the_ledgers_plan_resolver(as_manager, team, factory):
    from webapp.commissions.assignments import end_assignment
    from webapp.commissions.plan_versions import add_version
    from webapp.commissions.plans import PlanRules

    # Carla has no plan at all; Dan's plan ended on Nov 5; Eve's plan only starts on Nov 10.
    carla = factory.user(Role.AGENT, manager=team.manager, name="Carla")
    dan = factory.user(Role.AGENT, manager=team.manager, name="Dan")
    assignment = factory.assign(dan, team.plan, effective_from=date(2026, 1, 1))
    end_assignment(None, assignment, date(2026, 11, 5))
    eve = factory.user(Role.AGENT, manager=team.manager, name="Eve")
    late_plan = factory.plan(base_rate="4", effective_from=date(2026, 11, 10))
    factory.assign(eve, late_plan, effective_from=date(2026, 1, 1))
    # A new version of a plan is still a plan in force.
    add_version(None, team.plan, PlanRules(base_rate=Decimal("5")), date(2026, 11, 12))

    cases = [
        team.sale(team.alice, "100.00", date(2026, 11, 13)),
        team.sale(carla, "100.00", date(2026, 11, 3)),
        team.sale(dan, "100.00", date(2026, 11, 5)),
        team.sale(dan, "100.00", date(2026, 11, 6)),
        team.sale(eve, "100.00", date(2026, 11, 9)),
        team.sale(eve, "100.00", date(2026, 11, 10)),
    ]
    html = html_of(as_manager.get("/manage/review"))
    flagged = {sale.id for sale in cases if "no_plan" in _flags(html, sale)}
    assert flagged == {cases[1].id, cases[3].id, cases[4].id}
    for sale in cases:
        resolver = ledger.PlanResolver(sale.agent_id)
        assert (resolver.version_on(sale.sold_on) is None) == (sale.id in flagged)
    # With no plan the sale would earn nothing, and the estimate says so.
    assert "≈ $0.00" in text_of(_row(html, cases[1]))


def test_unusual_amount_is_over_three_times_the_agents_median(as_manager, team):
    for amount in ("100.00", "100.00", "120.00"):
        team.sale(team.alice, amount, date(2026, 11, 2), status="approved")
    at_limit = team.sale(team.alice, "300.00", date(2026, 11, 3))
    over = team.sale(team.alice, "300.01", date(2026, 11, 4))
    # Bob has only two approved sales: too few for a median to mean anything.
    for amount in ("10.00", "10.00"):
        team.sale(team.bob, amount, date(2026, 11, 2), status="approved")
    bob_big = team.sale(team.bob, "900.00", date(2026, 11, 5))
    html = html_of(as_manager.get("/manage/review"))
    assert "unusual" not in _flags(html, at_limit)
    assert "unusual" in _flags(html, over)
    assert "3.0× the agent's median approved sale ($100.00)" in text_of(_row(html, over))
    assert "unusual" not in _flags(html, bob_big)


def test_agent_medians_are_exact_for_odd_and_even_counts(team):
    for amount in ("1.00", "5.00", "3.00"):
        team.sale(team.alice, amount, date(2026, 11, 2), status="approved")
    for amount in ("0.01", "0.02", "9.00", "0.03"):
        team.sale(team.bob, amount, date(2026, 11, 2), status="approved")
    team.sale(team.bob, "500.00", date(2026, 11, 2))  # pending: not part of the median
    medians = queue_flags.agent_medians([team.alice.id, team.bob.id])
    assert medians[team.alice.id] == (2 * 300, 3)
    assert medians[team.bob.id] == (2 + 3, 4)  # median 2.5 cents, kept exact as twice the median
    assert Decimal(medians[team.bob.id][0]) / 2 == statistics.median([Decimal(c) for c in (1, 2, 3, 900)])


def test_flags_cost_the_same_queries_for_two_agents_or_eight(team, factory):
    """No query per agent or per sale (no N+1): the flag pass is a fixed set of queries."""
    def queries_for(agent_count: int) -> int:
        agents = [factory.user(Role.AGENT, manager=team.manager) for _ in range(agent_count)]
        ids = []
        for agent in agents:
            factory.assign(agent, team.plan)
            team.sale(agent, "100.00", date(2026, 11, 3), status="approved")
            ids.append(team.sale(agent, "100.00", date(2026, 11, 3)).id)
        db.session.flush()
        with sql_statements() as statements:
            flags = queue.compute_flags(Sale.id.in_(ids))
        assert set(flags) == set(ids)  # each is a possible duplicate of its approved twin
        return len(statements)

    assert queries_for(2) == queries_for(8)


def test_possible_duplicate_of_a_live_sale(as_manager, team, factory):
    day = date(2026, 11, 6)
    approved = team.sale(team.alice, "250.00", day, status="approved")
    twin = team.sale(team.alice, "250.00", day)
    # Not duplicates: another amount, another customer, another agent, or a twin that was rejected.
    other_amount = team.sale(team.alice, "250.01", day)
    other_customer = team.sale(team.alice, "250.00", day, customer=factory.customer())
    other_agent = team.sale(team.bob, "250.00", day)
    team.sale(team.bob, "75.00", day, status="rejected")
    after_rejected = team.sale(team.bob, "75.00", day)
    html = html_of(as_manager.get("/manage/review"))
    assert "duplicate" in _flags(html, twin)
    assert f"#{approved.id} (approved)" in text_of(_row(html, twin))
    for sale in (other_amount, other_customer, other_agent, after_rejected):
        assert "duplicate" not in _flags(html, sale), sale.id


def test_two_identical_pending_sales_flag_each_other(as_manager, team):
    first = team.sale(team.bob, "80.00", date(2026, 11, 7))
    second = team.sale(team.bob, "80.00", date(2026, 11, 7))
    html = html_of(as_manager.get("/manage/review"))
    assert "duplicate" in _flags(html, first) and "duplicate" in _flags(html, second)
    assert f"#{second.id} (pending)" in text_of(_row(html, first))


def test_late_approval_flag_and_its_ledger_entry(as_manager, team):
    late = team.sale(team.alice, "1000.00", date(2026, 11, 14))
    current = team.sale(team.alice, "1000.00", date(2026, 11, 16))
    close_period(None, period_for(date(2026, 11, 1)))
    html = html_of(as_manager.get("/manage/review"))
    assert "late" in _flags(html, late) and "late" not in _flags(html, current)
    assert "Late approval" in text_of(_row(html, late))

    # It can still be approved: the commission lands in the open period as a late approval.
    response = as_manager.post(f"/manage/review/{late.id}/approve", token_from="/manage/review", headers=ROW)
    assert response.status_code == 200
    db.session.expire_all()
    entry = db.session.scalars(select(CommissionEntry).where(CommissionEntry.sale_id == late.id)).one()
    assert entry.kind == EntryKind.ADJUSTMENT and entry.amount_cents == 3000
    assert entry.period.start_date == date(2026, 11, 16)
    assert entry.reason == "Late approval of a sale dated 2026-11-14"


def test_counters_and_the_flagged_only_filter(as_manager, team):
    for amount in ("100.00", "100.00", "100.00"):
        team.sale(team.alice, amount, date(2026, 11, 2), status="approved")
    unusual = team.sale(team.alice, "1000.00", date(2026, 11, 3))
    plain = team.sale(team.bob, "20.50", date(2026, 11, 4))
    dup_a = team.sale(team.bob, "7.25", date(2026, 11, 5))
    dup_b = team.sale(team.bob, "7.25", date(2026, 11, 5))
    html = html_of(as_manager.get("/manage/review"))
    assert by_testid(html, "pending-count") == "4"
    assert by_testid(html, "pending-amount") == "$1,035.00"
    assert by_testid(html, "flagged-count") == "3"
    flagged = html_of(as_manager.get("/manage/review?flagged=y"))
    assert _row_ids(flagged) == [unusual.id, dup_a.id, dup_b.id] and plain.id not in _row_ids(flagged)

    fragment = as_manager.get("/manage/review/counters")
    assert fragment.status_code == 200 and "<html" not in html_of(fragment)
    section = by_id(html_of(fragment), "review-counters")
    assert section.attrs["hx-trigger"].startswith("review-changed from:body")
    assert by_testid(html_of(fragment), "pending-count") == "4"


def test_estimates_are_shown_per_row(as_manager, team):
    sale = team.sale(team.alice, "1234.50", date(2026, 11, 3))
    html = html_of(as_manager.get("/manage/review"))
    assert "≈ $37.04" in text_of(_row(html, sale))  # 3% of 1,234.50 = 37.035, rounded half up


# --- deciding one sale --------------------------------------------------------------------------------

def test_htmx_approve_replaces_the_row_and_triggers_a_refresh(as_manager, team):
    sale = team.sale(team.alice, "1000.00", date(2026, 11, 3))
    keep = team.sale(team.alice, "50.00", date(2026, 11, 4))
    before = _state()
    response = as_manager.post(f"/manage/review/{sale.id}/approve", token_from="/manage/review", headers=ROW)
    assert response.status_code == 200
    assert _triggers(response) == {"review-changed", "sales-changed"}
    html = html_of(response)
    row = _row(html, sale)
    assert row.attrs["class"] == "row-decided" and "Approved" in text_of(row)
    assert "Commission $30.00 posted" in text_of(row) and "<html" not in html
    assert 'name="sale_ids"' not in html  # it left the queue: nothing to tick
    summary = next(t for t in tags(html) if t.attrs.get("id") == "queue-summary")
    assert summary.attrs.get("hx-swap-oob") == "true" and text_of(summary) == "1 pending sale"
    after = _state()
    assert after["statuses"][sale.id] == "approved" and after["statuses"][keep.id] == "pending"
    assert after["entries"] == before["entries"] + 1
    assert reload(sale).decided_by_id == team.manager.id
    assert _row_ids(html_of(as_manager.get("/manage/review"))) == [keep.id]


def test_plain_approve_redirects_back_with_the_filters_and_flashes(as_manager, team):
    sale = team.sale(team.alice, "1000.00", date(2026, 11, 3))
    response = as_manager.post(f"/manage/review/{sale.id}/approve?agent_id={team.alice.id}&junk=1",
                               token_from="/manage/review")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.path, location.query) == ("/manage/review", f"agent_id={team.alice.id}")
    page = html_of(as_manager.get("/manage/review"))
    assert f"Approved sale #{sale.id} (Alice Agent, Patient monitor)." in page
    assert reload(sale).status == "approved"


def test_reject_inline_with_a_reason_emails_the_agent(as_manager, team):
    sale = team.sale(team.bob, "640.00", date(2026, 11, 3))
    response = as_manager.post(f"/manage/review/{sale.id}/reject", {"reason": "Duplicate of an older order"},
                               token_from="/manage/review", headers=ROW)
    assert response.status_code == 200 and "review-changed" in response.headers["HX-Trigger"]
    assert "Rejected" in text_of(_row(html_of(response), sale))
    sale = reload(sale)
    assert (sale.status, sale.reason, sale.decided_by_id) == (
        "rejected", "Duplicate of an older order", team.manager.id)
    email = db.session.scalars(
        select(OutgoingEmail).where(OutgoingEmail.key == f"sale-rejected:{sale.id}")).one()
    assert email.to == team.bob.email and "Duplicate of an older order" in email.text

    other = team.sale(team.bob, "10.00", date(2026, 11, 4))
    response = as_manager.post(f"/manage/review/{other.id}/reject", {"reason": "Wrong customer"},
                               token_from="/manage/review")
    assert response.status_code == 302
    assert reload(other).status == "rejected"


@pytest.mark.parametrize("htmx", [True, False])
@pytest.mark.parametrize("reason", ["", "   "])
def test_reject_without_a_reason_is_422_beside_the_field_and_changes_nothing(as_manager, team, htmx, reason):
    sale = team.sale(team.bob, "640.00", date(2026, 11, 3))
    before = _state()
    response = as_manager.post(f"/manage/review/{sale.id}/reject", {"reason": reason},
                               token_from="/manage/review", headers=ROW if htmx else {})
    assert response.status_code == 422
    html = html_of(response)
    assert field_error(html, f"reason-{sale.id}") == "Give a reason."
    textarea = by_id(html, f"reason-{sale.id}")
    assert textarea.attrs["aria-describedby"] == f"reason-{sale.id}-error"
    details = next(t for t in tags(html) if t.name == "details" and any(
        a.attrs.get("id") == f"sale-row-{sale.id}" for a in t.ancestors))
    assert "open" in details.attrs  # the reason field is shown, not folded away
    assert ("<html" in html) is not htmx
    assert _state() == before


def test_approving_a_sale_you_entered_is_refused_on_its_row(as_manager, team):
    mine = team.sale(team.alice, "300.00", date(2026, 11, 3), entered_by=team.manager)
    page = tags(html_of(as_manager.get("/manage/review")))
    row = next(t for t in page if t.attrs.get("id") == f"sale-row-{mine.id}")
    assert "entered by you" in text_of(row)
    approve = next(t for t in within(row, page, "button") if text_of(t) == "Approve")
    assert "disabled" in approve.attrs
    before = _state()
    response = as_manager.post(f"/manage/review/{mine.id}/approve", token_from="/manage/review", headers=ROW)
    assert response.status_code == 403
    message = by_testid(html_of(response), "row-message")
    assert message == "You entered this sale; another manager or an admin must decide it."
    assert _state() == before
    response = as_manager.post(f"/manage/review/{mine.id}/approve", token_from="/manage/review")
    assert response.status_code == 403 and message in html_of(response)
    assert reload(mine).status == "pending"


def test_another_manager_may_approve_a_sale_a_manager_entered(as_admin, team):
    entered = team.sale(team.alice, "300.00", date(2026, 11, 3), entered_by=team.manager)
    response = as_admin.post(f"/manage/review/{entered.id}/approve", token_from="/manage/review", headers=ROW)
    assert response.status_code == 200 and reload(entered).status == "approved"


def test_approving_a_rejected_sale_is_409(as_manager, team):
    sale = team.sale(team.alice, "300.00", date(2026, 11, 3), status="rejected")
    before = _state()
    response = as_manager.post(f"/manage/review/{sale.id}/approve", token_from="/manage/review", headers=ROW)
    assert response.status_code == 409
    message = by_testid(html_of(response), "row-message")
    assert message == f"This sale was already rejected by {team.manager.name}."
    assert _state() == before


@pytest.mark.parametrize("htmx", [True, False])
def test_a_sale_already_approved_by_someone_else_is_409_with_their_name(as_manager, as_admin, team, htmx):
    sale = team.sale(team.alice, "300.00", date(2026, 11, 3))
    token = as_manager.token("/manage/review")  # the page was open before the admin acted
    assert as_admin.post(f"/manage/review/{sale.id}/approve", token_from="/manage/review").status_code == 302
    before = _state()
    response = as_manager.client.post(f"/manage/review/{sale.id}/approve", data={"csrf_token": token},
                                      headers=ROW if htmx else {})
    assert response.status_code == 409
    message = f"This sale was already approved by {as_admin.user.name}."
    html = html_of(response)
    assert message in html
    if htmx:
        assert "review-changed" in response.headers["HX-Trigger"]  # the counters are stale too
        assert 'name="sale_ids"' not in html  # no longer something to tick
        summary = next(t for t in tags(html) if t.attrs.get("id") == "queue-summary")
        assert summary.attrs.get("hx-swap-oob") == "true" and text_of(summary) == "0 pending sales"
    assert _state() == before


# --- bulk ----------------------------------------------------------------------------------------------

def test_bulk_approve_two_sales_posts_their_commission_and_moves_the_agents_totals(as_manager, team):
    first = team.sale(team.alice, "1000.00", date(2026, 11, 3))
    second = team.sale(team.alice, "500.00", date(2026, 11, 18))
    stays = team.sale(team.bob, "70.00", date(2026, 11, 4))
    totals_before = portal.agent_totals(team.alice.id)
    before = _state()
    response = as_manager.post("/manage/review/bulk", {"sale_ids": [str(first.id), str(second.id)],
                                                       "action": "approve"},
                               token_from="/manage/review", headers=ROW)
    assert response.status_code == 200
    assert _triggers(response) == {"review-changed", "sales-changed"}
    html = html_of(response)
    assert html.lstrip().startswith('<div id="queue-table">')
    assert _row_ids(html) == [stays.id]  # the decided rows left the queue
    result = by_testid(html, "bulk-result")
    assert (f"Approved 2 sales: #{first.id} Alice Agent ($1,000.00), "
            f"#{second.id} Alice Agent ($500.00).") in result
    after = _state()
    assert after["entries"] == before["entries"] + 2
    assert (after["statuses"][first.id], after["statuses"][second.id]) == ("approved", "approved")
    db.session.expire_all()
    amounts = dict(db.session.execute(select(CommissionEntry.sale_id, CommissionEntry.amount_cents)
                                      .where(CommissionEntry.sale_id.in_([first.id, second.id]))).all())
    assert amounts == {first.id: 3000, second.id: 1500}
    totals_after = portal.agent_totals(team.alice.id)
    assert totals_after.month_figures.commission == totals_before.month_figures.commission + 4500
    assert totals_after.month_figures.volume == totals_before.month_figures.volume + 150_000
    assert totals_after.unpaid == totals_before.unpaid + 4500
    assert totals_before.month_figures.pending_count == 2 and totals_after.month_figures.pending_count == 0


def test_bulk_with_one_already_decided_sale_decides_the_others_and_reports_it(as_manager, as_admin, team):
    a = team.sale(team.alice, "100.00", date(2026, 11, 3))
    taken = team.sale(team.alice, "200.00", date(2026, 11, 4))
    b = team.sale(team.bob, "300.00", date(2026, 11, 5))
    sales.approve_sale(as_admin.user, taken)
    db.session.flush()
    before = _state()
    response = as_manager.post("/manage/review/bulk", {"sale_ids": [str(a.id), str(taken.id), str(b.id)],
                                                       "action": "approve"},
                               token_from="/manage/review", headers=ROW)
    assert response.status_code == 200
    result = by_testid(html_of(response), "bulk-result")
    assert "Approved 2 sales" in result
    assert (f"Sale #{taken.id} (Alice Agent, Patient monitor): "
            f"This sale was already approved by {as_admin.user.name}.") in result
    after = _state()
    assert (after["statuses"][a.id], after["statuses"][b.id]) == ("approved", "approved")
    assert after["entries"] == before["entries"] + 2
    assert db.session.scalar(select(func.count()).select_from(CommissionEntry)
                             .where(CommissionEntry.sale_id == taken.id)) == 1
    approvals = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "sale.approve", AuditEvent.object_id == taken.id))
    assert approvals == 1


def test_bulk_keeps_a_refused_row_in_the_queue_with_its_message(as_manager, team, other_team):
    mine = team.sale(team.alice, "100.00", date(2026, 11, 3), entered_by=team.manager)
    ok = team.sale(team.bob, "100.00", date(2026, 11, 4))
    _outsider, foreign = other_team
    ids = [str(mine.id), str(ok.id), str(foreign.id)]
    response = as_manager.post("/manage/review/bulk", {"sale_ids": ids, "action": "approve"},
                               token_from="/manage/review", headers=ROW)
    assert response.status_code == 200
    html = html_of(response)
    assert mine.id in _row_ids(html) and ok.id not in _row_ids(html)
    assert "You entered this sale" in text_of(_row(html, mine))
    result = by_testid(html, "bulk-result")
    assert f"Sale #{foreign.id}: Sale not found." in result and "Olga" not in result
    assert [reload(s).status for s in (mine, ok, foreign)] == ["pending", "approved", "pending"]


def test_bulk_reject_needs_a_reason_and_writes_nothing_without_one(as_manager, team):
    a = team.sale(team.alice, "100.00", date(2026, 11, 3))
    b = team.sale(team.bob, "100.00", date(2026, 11, 4))
    before = _state()
    data = {"sale_ids": [str(a.id), str(b.id)], "action": "reject", "reason": " "}
    response = as_manager.post("/manage/review/bulk", data, token_from="/manage/review", headers=ROW)
    assert response.status_code == 422
    html = html_of(response)
    assert field_error(html, "bulk-reason") == "Give a reason."
    # The ticks survive, so fixing the reason is one more click.
    assert {int(t.attrs["value"]) for t in tags(html, "input")
            if t.attrs.get("name") == "sale_ids" and "checked" in t.attrs} == {a.id, b.id}
    plain = as_manager.post("/manage/review/bulk", data, token_from="/manage/review")
    assert plain.status_code == 422 and field_error(html_of(plain), "bulk-reason") == "Give a reason."
    assert _state() == before

    data["reason"] = "Customer never signed"
    response = as_manager.post("/manage/review/bulk", data, token_from="/manage/review", headers=ROW)
    assert response.status_code == 200 and "Rejected 2 sales" in by_testid(html_of(response), "bulk-result")
    assert (reload(a).status, reload(b).status) == ("rejected", "rejected")
    assert db.session.scalar(select(func.count()).select_from(OutgoingEmail).where(
        OutgoingEmail.key.in_([f"sale-rejected:{a.id}", f"sale-rejected:{b.id}"]))) == 2


def test_a_row_failing_after_its_writes_is_rolled_back_alone(as_manager, team, monkeypatch):
    """The savepoint per row: a refusal late in one row (after its status and ledger writes were
    flushed) undoes that row only; the rows before and after it are still committed."""
    from webapp.errors import ServiceError
    from webapp.sales import notify

    a = team.sale(team.alice, "100.00", date(2026, 11, 3))
    broken = team.sale(team.alice, "200.00", date(2026, 11, 4))
    b = team.sale(team.bob, "300.00", date(2026, 11, 5))
    real = notify.sale_decided

    def refuse_one(sale):
        """Fail for one sale only, after the decision was written."""
        if sale.id == broken.id:
            raise ServiceError("The mail relay refused this one.", status=409)
        return real(sale)

    monkeypatch.setattr(notify, "sale_decided", refuse_one)
    before = _state()
    response = as_manager.post("/manage/review/bulk", {"sale_ids": [str(a.id), str(broken.id), str(b.id)],
                                                       "action": "approve"},
                               token_from="/manage/review", headers=ROW)
    assert response.status_code == 200
    assert f"Sale #{broken.id} (Alice Agent, Patient monitor): The mail relay refused this one." in by_testid(
        html_of(response), "bulk-result")
    after = _state()
    assert [after["statuses"][s.id] for s in (a, broken, b)] == ["approved", "pending", "approved"]
    assert after["entries"] == before["entries"] + 2
    assert after["audit"] == before["audit"] + 2
    assert db.session.scalar(select(func.count()).select_from(CommissionEntry)
                             .where(CommissionEntry.sale_id == broken.id)) == 0


@pytest.mark.parametrize("data, field, message", [
    ({"action": "approve"}, "sale_ids", "Select at least one sale."),
    ({"action": "approve", "sale_ids": ["12x"]}, "sale_ids", "Select sales from the list."),
    ({"action": "delete", "sale_ids": ["1"]}, "action", "Choose approve or reject."),
])
def test_bad_bulk_requests_are_422_and_write_nothing(as_manager, team, data, field, message):
    team.sale(team.alice, "100.00", date(2026, 11, 3))
    before = _state()
    response = as_manager.post("/manage/review/bulk", data, token_from="/manage/review", headers=ROW)
    assert response.status_code == 422
    assert field_error(html_of(response), f"bulk-{field}") == message
    assert _state() == before


def test_plain_bulk_redirects_and_flashes_each_outcome(as_manager, as_admin, team):
    a = team.sale(team.alice, "100.00", date(2026, 11, 3))
    taken = team.sale(team.bob, "200.00", date(2026, 11, 4))
    sales.approve_sale(as_admin.user, taken)
    db.session.flush()
    response = as_manager.post(f"/manage/review/bulk?product_id={team.product.id}",
                               {"sale_ids": [str(a.id), str(taken.id)], "action": "approve"},
                               token_from="/manage/review")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).query == f"product_id={team.product.id}"
    page = html_of(as_manager.get("/manage/review"))
    assert "Approved 1 sale." in page
    assert (f"Sale #{taken.id} (Bob Agent, Patient monitor): "
            f"This sale was already approved by {as_admin.user.name}.") in page
    assert reload(a).status == "approved"


# --- CSRF ----------------------------------------------------------------------------------------------

def test_every_queue_post_needs_the_csrf_token(as_manager, team):
    sale = team.sale(team.alice, "100.00", date(2026, 11, 3))
    as_manager.get("/manage/review")  # a session exists: only the token is missing
    before = _state()
    for url, data in ((f"/manage/review/{sale.id}/approve", {}),
                      (f"/manage/review/{sale.id}/reject", {"reason": "No"}),
                      ("/manage/review/bulk", {"sale_ids": str(sale.id), "action": "approve"})):
        for headers in ({}, ROW, {**ROW, "X-CSRFToken": "forged"}):
            response = as_manager.client.post(url, data=data, headers=headers)
            assert response.status_code == 400, (url, headers)
    assert _state() == before
