"""The sale page explains every ledger line (the engine's derivation stored on it) and shows each
viewer only the holders they may see: an agent their own credit's lines, a manager their team's."""

from __future__ import annotations

from tests.conftest import browser_as
from tests.services.test_ledger_examples_g_i import d, spiff, split
from tests.web._api import API, headers_for
from tests.web._html import tags, text_of
from webapp.commissions.periods import period_for
from webapp.manage.team import team_dashboard
from webapp.sales.services import approve_sale


def entry_rows(html: str) -> list[str]:
    """The text of each row of the sale page's ledger table."""
    return [text_of(t) for t in tags(html, "tr") if (t.attrs.get("id") or "").startswith("entry-")]


def test_each_line_says_how_it_was_worked_out(app, factory, today):
    today(d(12))
    agent = factory.user("agent")
    factory.assign(agent, factory.plan(tiers=[("0", "3"), ("5000", "5")], tier_mode="marginal"))
    factory.sale(agent, "4800.00", d(3))
    sale = factory.sale(agent, "1000.00", d(10))
    [row] = entry_rows(browser_as(app, agent).get(f"/sales/{sale.id}").get_data(as_text=True))
    assert "How this was worked out" in row
    assert "version 1" in row and "Portions: 200.00 x 3%; 800.00 x 5%." in row
    assert "Month's volume 4,800.00 -> 5,800.00." in row and "Exact 46.00, rounded half-up once: 46.00." in row


def test_a_split_sale_shows_each_viewer_their_own_holders(app, factory, today):
    today(d(12))
    manager = factory.user("manager")
    ana, ben = factory.user("agent", manager=manager), factory.user("agent", manager=manager)
    for agent in (ana, ben):
        factory.assign(agent, factory.plan(base_rate="3"))
    printer = factory.product("PRN-D")
    spiff("derivation_push", products=[printer], per_unit="5.00")
    sale = factory.sale(ana, "1000.00", d(10), product=printer, approve=False)
    split(sale, [(ana, "60"), (ben, "40")])
    approve_sale(manager, sale)
    ana_rows = entry_rows(browser_as(app, ana).get(f"/sales/{sale.id}").get_data(as_text=True))
    assert len(ana_rows) == 2  # her commission and her SPIFF reward; none of Ben's
    assert any("Commission" in r and "$18.00" in r for r in ana_rows)
    assert any("SPIFF reward (derivation_push)" in r and "$3.00" in r and "share 60%" in r for r in ana_rows)
    assert all(ben.name not in r and "$12.00" not in r for r in ana_rows)
    manager_rows = entry_rows(browser_as(app, manager).get(f"/sales/{sale.id}").get_data(as_text=True))
    assert len(manager_rows) == 4
    assert sum(ben.name in r for r in manager_rows) == 2 and any("$12.00" in r for r in manager_rows)


def test_the_team_dashboard_shows_spiff_rewards_apart_from_adjustments(app, factory, today):
    today(d(12))
    manager = factory.user("manager")
    ana, ben = factory.user("agent", manager=manager), factory.user("agent", manager=manager)
    for agent in (ana, ben):
        factory.assign(agent, factory.plan(base_rate="3"))
    printer = factory.product("PRN-T")
    spiff("team_push", products=[printer], per_unit="5.00")
    sale = factory.sale(ana, "1000.00", d(10), product=printer, approve=False)
    split(sale, [(ana, "60"), (ben, "40")])
    approve_sale(manager, sale)
    dash = team_dashboard(manager, period_for(d(10)))
    figures = {row.agent.id: (row.volume, row.earned, row.spiffs, row.adjustments, row.commission)
               for row in dash.rows}
    assert figures == {ana.id: (60000, 1800, 300, 0, 2100), ben.id: (40000, 1200, 200, 0, 1400)}
    pending = factory.sale(ben, "200.00", d(11), approve=False)
    split(pending, [(ben, "50"), (ana, "50")])
    counts = {row.agent.id: row.pending_count for row in team_dashboard(manager, period_for(d(10))).rows}
    assert counts == {ana.id: 1, ben.id: 1}  # a co-agent's pending split sale counts for them too
    html = browser_as(app, manager).get(f"/manage/team?period={period_for(d(10)).id}").get_data(as_text=True)
    assert "$30.00 on sales, $5.00 SPIFF rewards</p>" in html


def test_the_api_counts_a_split_sales_estimate_as_its_commission_every_holder_for_a_manager(app, factory, today):
    today(d(12))
    manager = factory.user("manager")
    ana, ben = factory.user("agent", manager=manager), factory.user("agent", manager=manager)
    factory.assign(ana, factory.plan(base_rate="3"))
    factory.assign(ben, factory.plan(base_rate="4"))
    sale = factory.sale(ana, "1000.00", d(10), approve=False)
    split(sale, [(ana, "60"), (ben, "40")])
    client = app.test_client()
    estimate = {user.id: client.get(f"{API}/sales/{sale.id}", headers=headers_for(user)).json["estimate"]
                for user in (ana, ben, manager)}
    # 600.00 x 3% = 18.00 and 400.00 x 4% = 16.00: each agent their part, the manager both.
    assert estimate == {ana.id: "18.00", ben.id: "16.00", manager.id: "34.00"}


def test_the_managers_agent_page_names_every_kind_of_ledger_line(app, factory, today):
    # The agent page's ledger once left a SPIFF reward's kind blank (its own copy of the labels).
    today(d(12))
    manager = factory.user("manager")
    ana = factory.user("agent", manager=manager)
    factory.assign(ana, factory.plan(base_rate="3"))
    printer = factory.product("PRN-K")
    spiff("kind_push", products=[printer], per_unit="5.00")
    factory.sale(ana, "1000.00", d(10), product=printer)
    html = browser_as(app, manager).get(f"/manage/agents/{ana.id}").get_data(as_text=True)
    kinds = sorted(text_of(t) for t in tags(html, "td") if t.attrs.get("data-label") == "Kind")
    assert kinds == ["Commission", "SPIFF reward"]
