"""Team dashboard (/manage/team) and the manager's agent page (/manage/agents/<id>), issue 5 items 2-3."""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.support.rows import sql_statements
from tests.web._html import by_id, by_testid, html_of, tags, text_of, within
from webapp.commissions import ledger
from webapp.commissions.adjustments import add_manual_adjustment
from webapp.commissions.models import Target
from webapp.commissions.payouts import record_payout
from webapp.commissions.periods import close_period, period_for
from webapp.extensions import db
from webapp.money import format_money
from webapp.manage import team as team_service
from webapp.sales.services import void_sale

TODAY = date(2026, 11, 20)
FIGURES = {"HX-Request": "true", "HX-Target": "team-figures"}


def _usd(cents: int) -> str:
    """An amount as the pages print it."""
    return format_money(cents, "USD")


def _cells(html: str, agent) -> dict[str, str]:
    """The agent's row of the team table: data-testid -> text."""
    page = tags(html)
    row = next(t for t in page if t.attrs.get("id") == f"agent-row-{agent.id}")
    return {t.attrs["data-testid"]: text_of(t) for t in within(row, page) if t.attrs.get("data-testid")}


def _leaderboard(html: str) -> list[int]:
    """Agent ids in leaderboard order."""
    page = tags(html)
    board = next(t for t in page if t.attrs.get("id") == "leaderboard")
    return [int(t.attrs["data-agent-id"]) for t in within(board, page, "li")]


@pytest.fixture
def team(as_manager, build, factory):
    """Nov 20 2026. Three agents on flat 3% (Ann, Ben, Cy) and one of another team (Zed).

    Nov 1-15 is closed. Ann: 10,000 on Nov 5 (300), 2,000 on Nov 18 (60), pending 500 on Nov 19.
    Ben: 4,000 on Nov 17 (120). Cy: nothing. Zed: 50,000 on Nov 17 (1,500).
    """
    build.on(date(2026, 11, 16))
    manager, (ann, ben, cy) = build.team(as_manager.user, "Ann Archer", "Ben Baker", "Cy Cole")
    zed = build.agent("Zed Zimmer")
    factory.sale(ann, "10000.00", date(2026, 11, 5))
    build.close(date(2026, 11, 5))
    build.on(TODAY)
    factory.sale(ann, "2000.00", date(2026, 11, 18))
    factory.sale(ann, "500.00", date(2026, 11, 19), approve=False)
    factory.sale(ben, "4000.00", date(2026, 11, 17))
    factory.sale(zed, "50000.00", date(2026, 11, 17))
    db.session.add(Target(agent_id=ann.id, month=date(2026, 11, 1), amount_cents=1_600_000))
    db.session.add(Target(agent_id=ben.id, month=date(2026, 11, 1), amount_cents=1_600_000))
    db.session.flush()
    return {"manager": manager, "ann": ann, "ben": ben, "cy": cy, "zed": zed}


def _late_agent(factory, manager, name: str, rate: str):
    """An agent who joins after Nov 1-15 closed (plans may not start in a closed period)."""
    agent = factory.user("agent", manager=manager, name=name)
    start = date(2026, 11, 16)
    factory.assign(agent, factory.plan(base_rate=rate, effective_from=start), effective_from=start)
    return agent


# --- the dashboard ------------------------------------------------------------------------------------

def test_dashboard_shows_each_agents_period_figures_from_the_ledger(as_manager, team):
    html = html_of(as_manager.get("/manage/team"))
    period = period_for(TODAY)
    assert "Nov 16–30, 2026" in html
    for name in ("ann", "ben", "cy"):
        agent = team[name]
        summary = ledger.period_summary(agent.id, period)
        cells = _cells(html, agent)
        assert cells["volume"] == _usd(summary.volume)
        assert cells["commission"] == _usd(summary.total)
        assert cells["unpaid"] == _usd(ledger.agent_balance(agent.id).unpaid)
    ann = _cells(html, team["ann"])
    assert (ann["volume"], ann["commission"], ann["pending"], ann["unpaid"]) == (
        "$2,000.00", "$60.00", "1", "$360.00")
    # Month target: 12,000 approved of 16,000.
    assert ann["attainment"].startswith("75%")
    assert _cells(html, team["cy"])["attainment"] == "No target"


def test_dashboard_totals_add_up_the_team(as_manager, team):
    html = html_of(as_manager.get("/manage/team"))
    assert by_testid(html, "team-commission") == "$180.00"
    assert by_testid(html, "team-volume") == "$6,000.00"
    assert by_testid(html, "team-pending") == "1"
    assert by_testid(html, "team-unpaid") == "$480.00"
    # (12,000 + 4,000) of (16,000 + 16,000); Cy has no target and does not count.
    assert by_testid(html, "team-attainment") == "50%"


def test_managers_see_only_their_team_and_admins_see_everyone(as_manager, as_admin, team):
    html = html_of(as_manager.get("/manage/team"))
    assert "Zed Zimmer" not in html and f"agent-row-{team['zed'].id}" not in html
    assert "$1,500.00" not in html
    admin_html = html_of(as_admin.get("/manage/team"))
    assert "Zed Zimmer" in admin_html and _cells(admin_html, team["zed"])["commission"] == "$1,500.00"


def test_leaderboard_ranks_by_commission_then_volume_then_name(as_manager, team, factory):
    manager = team["manager"]
    # Dee ties Ben on commission (120) with more volume (a cheaper rate); Abe ties Ben exactly.
    dee = _late_agent(factory, manager, "Dee Dunn", "2")
    factory.sale(dee, "6000.00", date(2026, 11, 17))
    abe = _late_agent(factory, manager, "Abe Adams", "3")
    factory.sale(abe, "4000.00", date(2026, 11, 17))
    order = _leaderboard(html_of(as_manager.get("/manage/team")))
    # Dee (120 on 6,000) > Abe = Ben (120 on 4,000: by name) > Ann (60) > Cy (0).
    assert order == [dee.id, abe.id, team["ben"].id, team["ann"].id, team["cy"].id]


def test_a_closed_period_shows_its_statement_figures(as_manager, team):
    closed = period_for(date(2026, 11, 5))
    for value in (str(closed.id), "2026-11-05", "2026-11-01"):
        html = html_of(as_manager.get(f"/manage/team?period={value}"))
        assert "Nov 1–15, 2026" in html and "closed" in html
        assert _cells(html, team["ann"])["commission"] == "$300.00"
        assert _cells(html, team["ann"])["volume"] == "$10,000.00"
        assert _cells(html, team["ben"])["commission"] == "$0.00"


def test_a_void_after_closing_shows_as_a_clawback_in_the_open_period(as_manager, team):
    sale = next(s for s in _sales_of(team["ann"]) if s.sold_on == date(2026, 11, 5))
    void_sale(team["manager"], sale, "Refunded")
    html = html_of(as_manager.get("/manage/team"))
    assert _cells(html, team["ann"])["commission"] == _usd(6000 - 30000)
    closed = html_of(as_manager.get("/manage/team?period=2026-11-01"))
    assert _cells(closed, team["ann"])["commission"] == "$300.00"  # frozen


def _sales_of(agent):
    """The agent's sales."""
    from sqlalchemy import select

    from webapp.sales.models import Sale

    return db.session.scalars(select(Sale).where(Sale.agent_id == agent.id)).all()


@pytest.mark.parametrize("value, says", [
    ("yesterday", "Choose a period"), ("2026-13-01", "Choose a period"), ("2026-11-21T00:00", "Choose a period"),
    ("2026-12-01", "has not started"),
])
def test_a_bad_period_is_a_message_beside_the_picker(as_manager, team, value, says):
    response = as_manager.get(f"/manage/team?period={value}")
    assert response.status_code == 422
    html = html_of(response)
    error = by_id(html, "period-error")
    assert error is not None and says in text_of(error)
    assert by_id(html, "period").attrs["aria-invalid"] == "true"
    assert "Nov 16–30, 2026" in html  # the current period is shown meanwhile


def test_an_unknown_period_id_is_404(as_manager, team):
    assert as_manager.get("/manage/team?period=999999").status_code == 404


def test_the_picker_offers_periods_and_neighbours(as_manager, team):
    html = html_of(as_manager.get("/manage/team"))
    options = [t for t in tags(html, "option")]
    values = [o.attrs["value"] for o in options]
    assert values[:2] == ["2026-11-16", "2026-11-01"]
    assert "selected" in options[0].attrs
    links = {a.attrs.get("aria-label"): a.attrs["href"] for a in tags(html, "a") if a.attrs.get("aria-label")}
    assert links["Previous period"] == "/manage/team?period=2026-11-15"
    assert "Next period" not in links  # nothing after the current period
    older = html_of(as_manager.get("/manage/team?period=2026-11-01"))
    links = {a.attrs.get("aria-label"): a.attrs["href"] for a in tags(older, "a") if a.attrs.get("aria-label")}
    assert links["Next period"] == "/manage/team?period=2026-11-16"


def test_figures_block_polls_and_listens_for_review_changes(as_manager, team):
    html = html_of(as_manager.get("/manage/team"))
    block = by_id(html, "team-figures")
    assert block.attrs["hx-get"] == "/manage/team?period=2026-11-16"
    triggers = [t.strip() for t in block.attrs["hx-trigger"].split(",")]
    assert "every 30s" in triggers and "review-changed from:body" in triggers
    assert block.attrs["hx-swap"] == "outerHTML" and block.attrs["hx-target"] == "this"


def test_the_poll_returns_the_fragment_with_approvals_made_meanwhile(as_manager, team, factory):
    first = as_manager.get("/manage/team?period=2026-11-16", headers=FIGURES)
    html = html_of(first)
    assert "<html" not in html
    assert by_id(html, "team-figures") is not None and by_id(html, "period") is None
    assert _cells(html, team["ann"])["pending"] == "1"
    # Another manager (an admin) approves Ann's pending sale.
    from webapp.sales.services import approve_sale

    pending = next(s for s in _sales_of(team["ann"]) if s.status == "pending")
    approve_sale(factory.user("admin"), pending)
    html = html_of(as_manager.get("/manage/team?period=2026-11-16", headers=FIGURES))
    assert _cells(html, team["ann"])["pending"] == "0"
    assert _cells(html, team["ann"])["commission"] == "$75.00"
    assert first.headers["Vary"] and "HX-Request" in first.headers["Vary"]


def test_chart_has_twelve_periods_with_values_printed(as_manager, team):
    html = html_of(as_manager.get("/manage/team"))
    page = tags(html)
    svg = next(t for t in page if t.name == "svg" and "chart-svg" in t.attrs.get("class", ""))
    bars = [t for t in within(svg, page, "rect")]
    values = [text_of(t) for t in within(svg, page, "text") if "chart-value" in t.attrs.get("class", "")]
    assert len(bars) == 12 and len(values) == 12
    assert values[-2:] == ["300", "180"]  # Nov 1-15 and Nov 16-30 (whole dollars)
    assert values[:10] == ["0"] * 10
    assert "current" in bars[-1].attrs["class"]
    desc = next(t for t in within(svg, page, "desc"))
    assert "Nov 1–15: $300.00." in text_of(desc)


def test_chart_ends_at_the_chosen_period(as_manager, team):
    chart = team_service.team_chart([team["ann"].id], period_for(date(2026, 11, 5)))
    assert [(b.start, b.cents) for b in chart[-2:]] == [(date(2026, 10, 16), 0), (date(2026, 11, 1), 30000)]
    assert len(chart) == 12 and chart[0].start == date(2026, 5, 16)


def test_the_dashboard_runs_a_fixed_number_of_queries_whatever_the_team_size(as_manager, team, factory):
    as_manager.get("/manage/team")  # warm up (the login, the periods)
    with sql_statements() as small:
        as_manager.get("/manage/team", headers=FIGURES)
    for n in range(6):
        agent = _late_agent(factory, team["manager"], f"Extra {n}", "3")
        factory.sale(agent, "100.00", TODAY)
        factory.sale(agent, "100.00", TODAY, approve=False)
    with sql_statements() as large:
        as_manager.get("/manage/team", headers=FIGURES)
    assert len(large) == len(small)


def test_a_deactivated_agent_shows_only_while_owed_money(as_manager, team):
    ben, cy = team["ben"], team["cy"]
    ben.active = cy.active = False
    db.session.flush()
    html = html_of(as_manager.get("/manage/team"))
    assert f"agent-row-{ben.id}" in html and "Deactivated" in html
    assert f"agent-row-{cy.id}" not in html


def test_an_empty_team(as_manager, today):
    today(TODAY)
    response = as_manager.get("/manage/team")
    assert response.status_code == 200
    assert "No agents are on your team yet" in html_of(response)


def test_agents_may_not_open_the_dashboard(as_agent):
    assert as_agent.get("/manage/team").status_code == 403


def test_the_old_team_page_is_gone_and_navigation_points_here(as_manager):
    assert as_manager.get("/team").status_code == 404
    html = html_of(as_manager.get("/", follow_redirects=True))
    nav = [a for a in tags(html, "a") if text_of(a) == "Team"]
    assert nav and nav[0].attrs["href"] == "/manage/team"


# --- the agent page ---------------------------------------------------------------------------------

def test_agent_page_shows_figures_sales_ledger_and_payouts(as_manager, team):
    ann = team["ann"]
    record_payout(team["manager"], agent_id=ann.id, amount_cents=10000, paid_on=TODAY, reference="Transfer 1")
    add_manual_adjustment(team["manager"], ann.id, -500, "Demo unit fee")
    html = html_of(as_manager.get(f"/manage/agents/{ann.id}"))
    assert "Ann Archer" in html and ann.email in html
    assert by_testid(html, "unpaid") == _usd(ledger.agent_balance(ann.id).unpaid) == "$255.00"
    assert by_testid(html, "paid") == "$100.00"
    # Sales link to the sale page managers can open.
    for sale in _sales_of(ann):
        row = by_id(html, f"sale-{sale.id}")
        assert row is not None
        assert f'href="/sales/{sale.id}"' in html
    # The ledger, newest period first, with kinds, sale links and reasons.
    heads = [text_of(t) for t in tags(html, "h3")]
    assert heads[0].startswith("Nov 16–30, 2026") and heads[1].startswith("Nov 1–15, 2026")
    assert "Manual correction" in html and "Demo unit fee" in html
    assert "Transfer 1" in html and "Reverse" in html


def test_agent_page_ledger_reconciles_each_period(as_manager, team):
    ann = team["ann"]
    record_payout(team["manager"], agent_id=ann.id, amount_cents=12345, paid_on=TODAY)
    html = html_of(as_manager.get(f"/manage/agents/{ann.id}"))
    page = tags(html)
    lines = [t for t in page if t.attrs.get("data-testid") == "reconcile"]
    periods = [period_for(date(2026, 11, 16)), period_for(date(2026, 11, 1))]
    assert len(lines) == 2
    for line, period in zip(lines, periods):
        parts = {t.attrs["data-part"]: text_of(t) for t in within(line, page, "span") if t.attrs.get("data-part")}
        s = ledger.period_summary(ann.id, period)
        assert parts == {"opening": _usd(s.opening), "total": _usd(s.total), "payouts": _usd(s.payouts),
                         "closing": _usd(s.closing)}
        assert s.closing == s.opening + s.total - s.payouts
    assert parts["closing"] == "$300.00"  # Nov 1-15: nothing paid before it closed


def test_agent_ledger_matches_period_summary_over_many_periods(team, today, factory):
    ann = team["ann"]
    today(date(2026, 12, 20))
    close_period(None, period_for(date(2026, 11, 16)))
    close_period(None, period_for(date(2026, 12, 1)))
    record_payout(None, agent_id=ann.id, amount_cents=5000, paid_on=date(2026, 12, 18))
    factory.sale(ann, "3000.00", date(2026, 12, 17))
    shown, count = team_service.agent_ledger(ann.id, limit=None)
    assert count == len(shown) >= 3
    for lp in shown:
        s = ledger.period_summary(ann.id, lp.period)
        assert (lp.opening, lp.total, lp.payouts, lp.closing) == (s.opening, s.total, s.payouts, s.closing)
    limited, count = team_service.agent_ledger(ann.id, limit=1)
    assert len(limited) == 1 and limited[0].period.start_date == date(2026, 12, 16) and count == len(shown)


def test_agent_page_sales_filter_returns_the_table_for_htmx(as_manager, team):
    ann = team["ann"]
    response = as_manager.get(f"/manage/agents/{ann.id}?status=pending",
                              headers={"HX-Request": "true", "HX-Target": "agent-sales"})
    html = html_of(response)
    assert "<html" not in html and by_id(html, "agent-sales") is not None
    assert "1 sale" in html and "Pending" in html
    assert len([t for t in tags(html, "tr") if (t.attrs.get("id") or "").startswith("sale-")]) == 1
    full = html_of(as_manager.get(f"/manage/agents/{ann.id}?status=junk"))
    assert "3 sales" in full  # junk filters are ignored


def test_approved_sales_have_a_void_form_and_others_do_not(as_manager, team):
    ann = team["ann"]
    html = html_of(as_manager.get(f"/manage/agents/{ann.id}"))
    for sale in _sales_of(ann):
        has_form = f'action="/manage/sales/{sale.id}/void"' in html
        assert has_form == (sale.status == "approved"), sale.status
        if has_form:
            assert by_id(html, f"void-reason-{sale.id}") is not None
            assert any(t.attrs.get("for") == f"void-reason-{sale.id}" for t in tags(html, "label"))


def test_no_statements_section_without_statements(as_manager, team):
    html = html_of(as_manager.get(f"/manage/agents/{team['ann'].id}"))
    # Statements come in a later issue: no stub section until then.
    assert "Statements" not in [text_of(t) for t in tags(html, "h2")] and by_id(html, "statements") is None


def test_issued_statements_are_listed_with_their_figures(as_manager, team):
    from webapp.statements.services import start_period_run

    run = start_period_run(None, period_for(date(2026, 11, 5)))
    [statement] = [s for s in run.statements if s.agent_id == team["ann"].id]
    html = html_of(as_manager.get(f"/manage/agents/{team['ann'].id}"))
    section = by_id(html, "statements")
    assert section is not None and "Statements" in [text_of(t) for t in tags(html, "h2")]
    row = text_of(by_id(html, f"statement-{statement.id}"))
    assert f"#{statement.number}" in row and "Nov 1–15, 2026" in row and row.count("$300.00") == 2
    # Ben had no activity in Nov 1-15: no statement, no section.
    assert by_id(html_of(as_manager.get(f"/manage/agents/{team['ben'].id}")), "statements") is None


def test_the_agents_disputes_are_listed_and_linked(as_manager, team):
    from sqlalchemy import select

    from webapp.commissions.models import CommissionEntry
    from webapp.disputes.services import open_dispute

    ann = team["ann"]
    assert by_id(html_of(as_manager.get(f"/manage/agents/{ann.id}")), "disputes") is None  # none yet
    entry = db.session.scalars(select(CommissionEntry).where(CommissionEntry.agent_id == ann.id)).first()
    dispute = open_dispute(ann, entry.id, "The rate should be 4%.")
    html = html_of(as_manager.get(f"/manage/agents/{ann.id}"))
    assert by_id(html, "disputes") is not None
    assert f'href="/manage/disputes/{dispute.id}"' in html and "1 open" in html


def test_another_teams_agent_is_404(as_manager, team):
    assert as_manager.get(f"/manage/agents/{team['zed'].id}").status_code == 404
    assert as_manager.get(f"/manage/agents/{team['manager'].id}").status_code == 404  # not an agent
    assert as_manager.get("/manage/agents/999999").status_code == 404


def test_admins_open_any_agent_and_agents_none(as_admin, as_agent, team):
    assert as_admin.get(f"/manage/agents/{team['zed'].id}").status_code == 200
    assert as_agent.get(f"/manage/agents/{as_agent.user.id}").status_code == 403


def test_team_pages_have_labels_and_no_inline_script_or_style(as_manager, team):
    ann = team["ann"]
    for path in ("/manage/team", f"/manage/agents/{ann.id}"):
        html = html_of(as_manager.get(path))
        assert all(t.attrs.get("src") for t in tags(html, "script")), path
        assert not [t for t in tags(html) if "style" in t.attrs or t.name == "style"], path
        labelled = {t.attrs.get("for") for t in tags(html, "label")}
        for control in tags(html, "input") + tags(html, "select") + tags(html, "textarea"):
            if control.attrs.get("type") in {"hidden", "submit"}:
                continue
            assert control.attrs.get("id") in labelled, (path, control.attrs)
        ids = [t.attrs["id"] for t in tags(html) if t.attrs.get("id")]
        assert len(ids) == len(set(ids)), path
        assert not re.search(r"\bon[a-z]+=", html.replace("hx-on", ""))


def _rows(html: str) -> list[int]:
    """Agent ids of the table's rows, in order."""
    return [int(t.attrs["id"].removeprefix("agent-row-")) for t in tags(html) if t.attrs.get("id", "").startswith("agent-row-")]


def test_a_large_team_is_paged_and_the_totals_and_leaderboard_count_everyone(as_manager, team, monkeypatch):
    monkeypatch.setattr(team_service, "TEAM_PAGE_SIZE", 2)
    monkeypatch.setattr(team_service, "LEADERBOARD_SIZE", 2)
    ann, ben, cy = team["ann"], team["ben"], team["cy"]
    first = html_of(as_manager.get("/manage/team"))
    second = html_of(as_manager.get("/manage/team?page=2"))
    assert _rows(first) == [ann.id, ben.id] and _rows(second) == [cy.id]  # by name, two a page
    for html in (first, second):
        # The totals and the leaderboard are the whole team's on every page: Ben 120, Ann 60.
        assert by_testid(html, "team-volume") == "$6,000.00" and by_testid(html, "team-unpaid") == "$480.00"
        assert "3 agents" in html and "(all 3)" in html
        assert _leaderboard(html) == [ben.id, ann.id]
        assert "The top 2 of the whole team" in html
    assert "Page 1 of 2" in first and 'href="/manage/team?period=2026-11-16&amp;page=2"' in first
    assert "Page 2 of 2" in second and 'href="/manage/team?period=2026-11-16&amp;page=1"' in second
    # The fragment polls the page it shows; a page past the end shows the last.
    assert 'hx-get="/manage/team?period=2026-11-16&amp;page=2"' in second
    assert _rows(html_of(as_manager.get("/manage/team?page=9"))) == [cy.id]
    fragment = html_of(as_manager.get("/manage/team?period=2026-11-16&page=2", headers=FIGURES))
    assert fragment.lstrip().startswith('<div id="team-figures"') and _rows(fragment) == [cy.id]


def test_one_page_has_no_pager_and_ranks_everyone(as_manager, team):
    html = html_of(as_manager.get("/manage/team"))
    assert "Pages of agents" not in html and "(all " not in html and "The top" not in html
    assert 'hx-get="/manage/team?period=2026-11-16"' in html
    assert len(_leaderboard(html)) == 3
