"""The manager's side of split credit and attainment plans: the review queue shows split shares and
flags holders with no target; team figures, the close preview and the CSV exports count each
holder's credited amount (a 60/40 split of 1,000.00 is 600.00 and 400.00, still 1,000.00 in all)."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from tests.services.test_ledger_examples_g_i import split
from tests.support.rows import sql_statements
from tests.web._html import by_id, html_of, tags, text_of, within
from tests.web._streaming import streaming_browser
from webapp.commissions import ledger, targets
from webapp.commissions.periods import period_for
from webapp.commissions.plans import PlanRules, create_plan
from webapp.manage import periods as manage_periods
from webapp.manage import queue
from webapp.manage.team import team_dashboard
from webapp.sales.models import Sale
from webapp.sales.services import approve_sale

TODAY = date(2026, 11, 20)
NOV = date(2026, 11, 1)


def quota_plan(name: str, **overrides):
    """An attainment plan: 0% of target at 2%, 100% at 6%, retroactive."""
    return create_plan(None, name=name, description=None, effective_from=date(2000, 1, 1), rules=PlanRules(
        tiers=[(Decimal(0), Decimal(2)), (Decimal(100), Decimal(6))], tier_mode="retroactive",
        basis="target_percent", **overrides))


@pytest.fixture
def team(as_manager, build, factory):
    """Ann on the flat 3% plan, Ben on an attainment plan with no target, Cy on it with a target."""
    build.on(TODAY)
    manager, (ann,) = build.team(as_manager.user, "Ann Archer <ann@example.com>")
    quota = quota_plan("Quota")
    ben = build.agent("Ben Baker <ben@example.com>", manager, plan=quota)
    cy = build.agent("Cy Cole <cy@example.com>", manager, plan=quota)
    targets.set_target(None, agent_id=cy.id, month=NOV, amount_cents=1_000_000)
    return {"manager": manager, "ann": ann, "ben": ben, "cy": cy, "quota": quota}


def split_sale(factory, primary, holders_and_shares, amount="1000.00", day=date(2026, 11, 17), approve=True,
               product=None):
    """A sale recorded for `primary`, split between the holders, approved by the primary's manager."""
    sale = factory.sale(primary, amount, day, approve=False, product=product)
    split(sale, holders_and_shares)
    if approve:
        approve_sale(primary.manager, sale)
    return sale


def flags_of(sale) -> dict[str, str]:
    """The sale's flags in the queue: kind -> detail."""
    return {flag.kind: flag.detail for flag in queue.compute_flags(Sale.id == sale.id).get(sale.id, [])}


# ---- The review queue ----------------------------------------------------------------------------


def test_the_queue_shows_the_holders_and_shares_of_a_split_sale(as_manager, team, factory):
    ann, ben = team["ann"], team["ben"]
    shared = split_sale(factory, ann, [(ann, "60"), (ben, "40")], approve=False)
    alone = factory.sale(ann, "300.00", date(2026, 11, 18), approve=False)
    html = html_of(as_manager.get("/manage/review"))
    page = tags(html)

    def holders_in(sale) -> list[str]:
        """The holder lines inside the sale's row."""
        row = next(t for t in page if t.attrs.get("id") == f"sale-row-{sale.id}")
        lists = [t for t in within(row, page, "ul") if t.attrs.get("data-testid") == "holders"]
        return [text_of(t) for t in within(lists[0], page, "li")] if lists else []

    assert holders_in(shared) == ["Ann Archer (primary): 60% · $600.00", "Ben Baker: 40% · $400.00"]
    assert holders_in(alone) == []


def test_holders_of_a_whole_page_are_one_query(team, factory):
    ann, ben, cy = team["ann"], team["ben"], team["cy"]
    sales = [split_sale(factory, ann, [(ann, "50"), (ben, "30"), (cy, "20")], amount=f"{100 + i}.00",
                        approve=False) for i in range(6)]
    with sql_statements() as seen:
        found = queue.holders_of([s.id for s in sales])
    assert len(seen) == 1
    assert [h.credit_cents for h in found[sales[0].id]] == [5000, 3000, 2000]


def test_a_holder_on_an_attainment_plan_without_a_target_is_flagged(team, factory):
    ann, ben, cy = team["ann"], team["ben"], team["cy"]
    shared = split_sale(factory, ann, [(ann, "60"), (ben, "40")], approve=False)
    assert "Ben Baker" in flags_of(shared)["no_target"] and "Ann" not in flags_of(shared)["no_target"]
    bens_own = factory.sale(ben, "100.00", date(2026, 11, 18), approve=False)
    assert set(flags_of(bens_own)) == {"no_target"}
    both = split_sale(factory, cy, [(cy, "50"), (ben, "50")], approve=False)
    assert "for Ben Baker:" in flags_of(both)["no_target"]         # Cy has a target: not named
    cys_own = factory.sale(cy, "100.00", date(2026, 11, 18), approve=False)
    assert "no_target" not in flags_of(cys_own)
    anns_own = factory.sale(ann, "100.00", date(2026, 11, 18), approve=False)
    assert "no_target" not in flags_of(anns_own)                  # a flat plan needs no target
    # Setting Ben's November target clears the flag; a December sale needs December's target.
    targets.set_target(None, agent_id=ben.id, month=NOV, amount_cents=500_000)
    assert "no_target" not in flags_of(shared) and "no_target" not in flags_of(bens_own)


def test_two_holders_without_targets_are_both_named(team, factory, build):
    ann, ben = team["ann"], team["ben"]
    dee = build.agent("Dee Dunn", team["manager"], plan=team["quota"])
    shared = split_sale(factory, ben, [(ben, "50"), (ann, "25"), (dee, "25")], approve=False)
    assert "for Ben Baker and Dee Dunn:" in flags_of(shared)["no_target"]


def test_an_override_line_is_not_flagged(team, factory, build):
    """A product with its own rate in the plan keeps that rate without a target (section 9)."""
    special = factory.product(sku="SVC-1")
    plan = quota_plan("Quota with a service rate", product_rates={special.id: Decimal("1.5")})
    eve = build.agent("Eve Evans", team["manager"], plan=plan)
    assert "no_target" not in flags_of(factory.sale(eve, "100.00", date(2026, 11, 18), approve=False,
                                                    product=special))
    assert "no_target" in flags_of(factory.sale(eve, "100.00", date(2026, 11, 18), approve=False))


def test_the_version_in_force_on_the_sale_date_decides(team, factory, build):
    """On an amount table until Nov 15, on percents from Nov 16: only the later sale is flagged."""
    from webapp.commissions.plan_versions import add_version

    build.on(date(2026, 11, 2))
    plan = factory.plan(tiers=[("0", "2"), ("5000", "4")], tier_mode="retroactive", name="Changing")
    fay = build.agent("Fay Ford", team["manager"], plan=plan)
    add_version(None, plan, PlanRules(tiers=[(Decimal(0), Decimal(2)), (Decimal(100), Decimal(6))],
                                      tier_mode="retroactive", basis="target_percent"), date(2026, 11, 16))
    build.on(TODAY)
    early = factory.sale(fay, "100.00", date(2026, 11, 10), approve=False)
    late = factory.sale(fay, "100.00", date(2026, 11, 17), approve=False)
    assert "no_target" not in flags_of(early) and "no_target" in flags_of(late)


def test_the_no_target_flag_counts_and_filters_like_the_others(as_manager, team, factory):
    bens = factory.sale(team["ben"], "100.00", date(2026, 11, 18), approve=False)
    factory.sale(team["cy"], "100.00", date(2026, 11, 18), approve=False)
    assert queue.counters(team["manager"]).flagged_count == 1
    html = html_of(as_manager.get("/manage/review?flagged=y"))
    assert by_id(html, f"sale-row-{bens.id}") is not None
    assert 'data-flag="no_target"' in html and "No target" in html


def test_no_target_flags_cost_the_same_queries_for_two_sales_or_eight(team, factory, build):
    def queries_for(count: int) -> int:
        ids = []
        for _ in range(count):
            agent = build.agent(None, team["manager"], plan=team["quota"])
            ids.append(split_sale(factory, agent, [(agent, "50"), (team["ben"], "50")], approve=False).id)
        with sql_statements() as seen:
            flags = queue.compute_flags(Sale.id.in_(ids))
        assert all("no_target" in {f.kind for f in flags[sale_id]} for sale_id in ids)
        return len(seen)

    assert queries_for(2) == queries_for(8)


# ---- Team figures, the close preview, the exports ------------------------------------------------


@pytest.fixture
def shared(team, factory):
    """An approved 1,000.00 sale of Ann's, split 60/40 with Ben, on Nov 17."""
    return split_sale(factory, team["ann"], [(team["ann"], "60"), (team["ben"], "40")])


def test_team_volume_counts_each_holders_credit(team, shared):
    period = period_for(date(2026, 11, 17))
    dash = team_dashboard(team["manager"], period)
    rows = {row.agent.id: row for row in dash.rows}
    ann, ben = rows[team["ann"].id], rows[team["ben"].id]
    assert (ann.volume, ben.volume) == (60_000, 40_000)
    assert (ann.month_volume, ben.month_volume) == (60_000, 40_000)
    assert dash.totals.volume == dash.totals.month_volume == 100_000    # the sale's amount, once
    # The same figures as the ledger's own summary for one agent (the statement's volume).
    for agent in (team["ann"], team["ben"]):
        assert rows[agent.id].volume == ledger.period_summary(agent.id, period).volume
    # Ben's commission: 2% of his 400.00 (no target) = 8.00; Ann's 3% of 600.00 = 18.00.
    assert (ann.commission, ben.commission) == (1_800, 800)


def test_the_team_page_shows_credited_volumes(as_manager, team, shared):
    html = html_of(as_manager.get("/manage/team"))
    assert "$600.00" in html and "$400.00" in html


def test_the_close_preview_counts_credited_volume(team, shared, build):
    build.on(date(2026, 12, 3))
    preview = manage_periods.preview(team["manager"], period_for(date(2026, 11, 17)))
    volumes = {agent.agent_id: agent.volume_cents for agent in preview.agents}
    assert volumes[team["ann"].id] == 60_000 and volumes[team["ben"].id] == 40_000
    assert preview.totals.volume_cents == 100_000


def _csv_rows(response) -> list[dict[str, str]]:
    """A streamed CSV download as dicts."""
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"), newline="")))


def test_the_sales_export_has_one_row_per_sale_with_every_holders_credit(app, team, shared, factory):
    alone = factory.sale(team["ann"], "250.00", date(2026, 11, 18))
    response = streaming_browser(app, team["manager"]).get(
        "/manage/exports/sales.csv", query_string={"start": "2026-11-01", "end": "2026-11-30"})
    rows = {row["sale_id"]: row for row in _csv_rows(response)}
    row = rows[str(shared.id)]
    assert (row["amount"], row["agent_email"], row["primary_share"], row["primary_credit"]) == (
        "1000.00", "ann@example.com", "60", "600.00")
    assert (row["co_agent_1_email"], row["co_agent_1_share"], row["co_agent_1_credit"]) == (
        "ben@example.com", "40", "400.00")
    assert row["co_agents"] == "ben@example.com:40"   # as the import reads it: the file imports as the same split
    assert row["co_agent_2_email"] == row["co_agent_4_credit"] == ""
    assert Decimal(row["primary_credit"]) + Decimal(row["co_agent_1_credit"]) == Decimal(row["amount"])
    assert (rows[str(alone.id)]["primary_share"], rows[str(alone.id)]["primary_credit"],
            rows[str(alone.id)]["co_agent_1_email"] + rows[str(alone.id)]["co_agents"]) == ("100", "250.00", "")
    # The commission column is the whole sale's (both holders' lines): 18.00 + 8.00.
    assert row["commission"] == "26.00"


def test_the_ledger_export_says_which_credit_each_entry_is_for(app, team, shared):
    response = streaming_browser(app, team["manager"]).get(
        "/manage/exports/ledger.csv", query_string={"start": "2026-11-01", "end": "2026-11-30"})
    lines = {row["agent_email"]: row for row in _csv_rows(response) if row["sale_id"] == str(shared.id)}
    assert {email: (row["holder_role"], row["share_percent"], row["credited_amount"], row["sale_amount"],
                    row["amount"]) for email, row in lines.items()} == {
        "ann@example.com": ("primary", "60", "600.00", "1000.00", "18.00"),
        "ben@example.com": ("co-agent", "40", "400.00", "1000.00", "8.00")}


def test_a_co_agent_with_no_plan_flags_the_split_sale(team, factory):
    ann = team["ann"]
    cy = factory.user("agent", manager=ann.manager, name="Cy Noplan")
    shared = split_sale(factory, ann, [(ann, "60"), (cy, "40")], approve=False)
    assert flags_of(shared)["no_plan"] == ("No commission plan in force on its date for Cy Noplan: their credit "
                                          "would earn nothing.")
    alone = factory.sale(ann, "300.00", date(2026, 11, 18), approve=False)
    assert "no_plan" not in flags_of(alone)
