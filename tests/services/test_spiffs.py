"""SPIFF services (COMMISSION_RULES.md section 10): validation, versions, ending early, the
recompute of touched holder-months (in the request and through the job), who earned what and the
agent's dashboard panel."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from webapp.commissions.models import CommissionEntry, EntryKind
from webapp.commissions.periods import close_period, period_for
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.spiffs import queries, recompute
from webapp.spiffs.models import RecomputeStatus, Spiff, SpiffRecompute, SpiffVersion
from webapp.spiffs.services import SpiffRules, add_version, create_spiff, end_early

NOV = date(2026, 11, 1)


def d(day: int, month: int = 11) -> date:
    """A day of late 2026."""
    return date(2026, month, day)


@pytest.fixture
def world(factory, today):
    """Today Nov 20 2026; Ana on a flat 3% in Maria's team; a technology category with a printer."""
    today(d(20))
    maria = factory.user("manager", name="Maria")
    ana = factory.user("agent", manager=maria, name="Ana")
    factory.assign(ana, factory.plan(base_rate="3"))
    technology = factory.category("technology")
    printer = factory.product("PRN-1", category=technology)
    other = factory.product("OTHER-1")
    admin = factory.user("admin")
    return {"ana": ana, "maria": maria, "tech": technology, "printer": printer, "other": other, "admin": admin}


def rules(**values) -> SpiffRules:
    """November rules on the printer, 12.25 per unit, unless told otherwise."""
    base = {"first_day": d(1), "last_day": d(30), "per_unit": Decimal("12.25"), "product_ids": []}
    base.update(values)
    return SpiffRules(**base)


def spiff_cents(agent, spiff) -> dict[int, int]:
    """{sale id: the agent's spiff entries for this SPIFF, summed}."""
    rows = db.session.execute(select(CommissionEntry.sale_id, func.sum(CommissionEntry.amount_cents))
                              .where(CommissionEntry.agent_id == agent.id, CommissionEntry.spiff_id == spiff.id)
                              .group_by(CommissionEntry.sale_id)).all()
    return {sale_id: int(total) for sale_id, total in rows}


def nothing_written() -> bool:
    """No SPIFF, version or spiff entry exists."""
    return (db.session.scalar(select(func.count(Spiff.id))) == 0
            and db.session.scalar(select(func.count(SpiffVersion.id))) == 0
            and db.session.scalar(select(func.count(CommissionEntry.id)).where(CommissionEntry.spiff_id.isnot(None))) == 0)


# ---- Validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "field", "words"), [
    ({"per_unit": Decimal("1.00"), "percent": Decimal("2")}, "per_unit", "not both"),
    ({"per_unit": None}, "per_unit", "Give the reward"),
    ({"per_unit": Decimal("0.00")}, "per_unit", "at least 0.01"),
    ({"per_unit": Decimal("0.005")}, "per_unit", "2 decimals"),
    ({"per_unit": None, "percent": Decimal("100.0001")}, "percent", "between 0 and 100"),
    ({"per_unit": None, "percent": Decimal("1.00001")}, "percent", "4 decimals"),
    ({"cap": Decimal("0.00")}, "cap", "at least 0.01"),
    ({"cap": Decimal("0.001")}, "cap", "2 decimals"),
    ({"last_day": d(31, 10)}, "last_day", "before the first day"),
    ({"first_day": None}, "first_day", "first day"),
    ({"product_ids": [2_000_000]}, "product_ids", "does not exist"),
    ({"product_ids": [], "category_ids": []}, "product_ids", "at least one product or category"),
])
def test_bad_rules_are_refused_beside_their_field_and_write_nothing(world, values, field, words):
    if "product_ids" not in values:
        values["product_ids"] = [world["printer"].id]
    with pytest.raises(ServiceError) as refused:
        create_spiff(world["admin"], "printer_push", rules(**values))
    assert refused.value.field == field and words in refused.value.message
    db.session.rollback()
    assert nothing_written()


def test_a_team_must_be_a_manager(world):
    with pytest.raises(ServiceError) as refused:
        create_spiff(world["admin"], "x", rules(product_ids=[world["printer"].id], team_ids=[world["ana"].id]))
    assert refused.value.field == "team_ids"


def test_zero_percent_is_a_valid_reward_and_pays_zero_lines(world, factory):
    sale = factory.sale(world["ana"], "100.00", d(5), product=world["printer"])
    change = create_spiff(world["admin"], "zero", rules(per_unit=None, percent=Decimal("0"),
                                                        product_ids=[world["printer"].id]))
    assert spiff_cents(world["ana"], change.spiff) == {sale.id: 0}


def test_names_are_unique_ignoring_case(world):
    create_spiff(world["admin"], "Printer push", rules(product_ids=[world["printer"].id]))
    with pytest.raises(ServiceError) as refused:
        create_spiff(world["admin"], "printer PUSH", rules(product_ids=[world["printer"].id]))
    assert refused.value.field == "name"


def test_a_name_taken_by_a_concurrent_create_is_a_field_error_not_a_500(world, factory, monkeypatch):
    from webapp.spiffs import services

    printer = world["printer"]
    sale = factory.sale(world["ana"], "100.00", d(5), product=printer)
    first = create_spiff(world["admin"], "push", rules(product_ids=[printer.id])).spiff
    # The other admin's insert lands between this one's check and its insert: the check passes.
    monkeypatch.setattr(services, "_check_name", lambda name, ignore_id=None: name)
    with pytest.raises(ServiceError) as refused:
        create_spiff(world["admin"], "push", rules(product_ids=[printer.id], per_unit=Decimal("5.00")))
    assert (refused.value.field, refused.value.message) == ("name", "A SPIFF with this name already exists.")
    with pytest.raises(ServiceError) as refused:  # the same name in other letters' case, likewise
        create_spiff(world["admin"], "PUSH", rules(product_ids=[printer.id]))
    assert (refused.value.field, refused.value.message) == ("name", "A SPIFF with this name already exists.")
    assert db.session.scalars(select(Spiff.name)).all() == ["push"]
    assert db.session.scalar(select(func.count(SpiffVersion.id))) == 1
    # Only the savepoint rolled back: the transaction goes on, and the first SPIFF's pay is intact.
    assert spiff_cents(world["ana"], first) == {sale.id: 1225}
    create_spiff(world["admin"], "other", rules(product_ids=[printer.id]))
    assert sorted(db.session.scalars(select(Spiff.name))) == ["other", "push"]


def test_the_first_day_may_not_be_in_a_closed_period(world):
    close_period(None, period_for(d(5)))
    with pytest.raises(ServiceError) as refused:
        create_spiff(world["admin"], "late", rules(product_ids=[world["printer"].id]))
    assert refused.value.field == "first_day" and "closed period" in refused.value.message


# ---- Recompute ----------------------------------------------------------------------------------


def test_creating_a_spiff_pays_the_approved_sales_already_in_its_days(world, factory):
    ana = world["ana"]
    old = factory.sale(ana, "2400.00", d(5), product=world["printer"], quantity=4)
    pending = factory.sale(ana, "600.00", d(6), product=world["printer"], approve=False)
    outside = factory.sale(ana, "500.00", d(7), product=world["other"])
    change = create_spiff(world["admin"], "printer_push", rules(product_ids=[world["printer"].id]))
    assert change.recomputed == 1 and change.run is None
    assert spiff_cents(ana, change.spiff) == {old.id: 4900}
    assert pending.id not in spiff_cents(ana, change.spiff) and outside.id not in spiff_cents(ana, change.spiff)


def test_approving_a_sale_later_earns_the_spiff(world, factory):
    change = create_spiff(world["admin"], "tech", rules(per_unit=None, percent=Decimal("2"), cap=Decimal("100.00"),
                                                        category_ids=[world["tech"].id]))
    sale = factory.sale(world["ana"], "1500.00", d(12), product=world["printer"])
    entry = db.session.scalar(select(CommissionEntry).where(CommissionEntry.sale_id == sale.id,
                                                            CommissionEntry.spiff_id == change.spiff.id))
    assert entry.kind == EntryKind.SPIFF and entry.amount_cents == 3000


def test_a_team_restricted_spiff_pays_only_that_team(world, factory):
    outsider = factory.user("agent")  # another manager's agent
    change = create_spiff(world["admin"], "team", rules(product_ids=[world["printer"].id],
                                                        team_ids=[world["maria"].id]))
    mine = factory.sale(world["ana"], "100.00", d(5), product=world["printer"])
    theirs = factory.sale(outsider, "100.00", d(5), product=world["printer"])
    assert spiff_cents(world["ana"], change.spiff) == {mine.id: 1225}
    assert spiff_cents(outsider, change.spiff) == {} and theirs.id


def test_a_new_version_changes_the_reward_from_its_date(world, factory):
    ana, printer = world["ana"], world["printer"]
    change = create_spiff(world["admin"], "push", rules(product_ids=[printer.id]))
    early = factory.sale(ana, "100.00", d(5), product=printer)
    late = factory.sale(ana, "100.00", d(18), product=printer)
    version = add_version(world["admin"], change.spiff, rules(per_unit=Decimal("20.00"), product_ids=[printer.id]), d(16))
    assert version.version.version == 2 and version.recomputed == 1
    assert spiff_cents(ana, change.spiff) == {early.id: 1225, late.id: 2000}
    later = factory.sale(ana, "100.00", d(19), product=printer)
    assert spiff_cents(ana, change.spiff)[later.id] == 2000
    with pytest.raises(ServiceError) as refused:
        add_version(world["admin"], change.spiff, rules(product_ids=[printer.id]), d(16))
    assert refused.value.field == "effective_from"


def test_versions_share_one_cap_per_month(world, factory):
    ana, printer = world["ana"], world["printer"]
    change = create_spiff(world["admin"], "capped", rules(product_ids=[printer.id], cap=Decimal("20.00")))
    first = factory.sale(ana, "100.00", d(5), product=printer)
    add_version(world["admin"], change.spiff, rules(per_unit=Decimal("15.00"), cap=Decimal("30.00"),
                                                    product_ids=[printer.id]), d(16))
    second = factory.sale(ana, "100.00", d(17), product=printer)
    # 12.25 under version 1; version 2's cap of 30.00 leaves 17.75 of its 15.00: all of it.
    assert spiff_cents(ana, change.spiff) == {first.id: 1225, second.id: 1500}
    third = factory.sale(ana, "100.00", d(18), product=printer)
    assert spiff_cents(ana, change.spiff)[third.id] == 275  # 30.00 - 27.25


def test_ending_early_claws_back_the_later_sales_and_closes_the_days(world, factory):
    ana, printer = world["ana"], world["printer"]
    change = create_spiff(world["admin"], "push", rules(product_ids=[printer.id]))
    kept = factory.sale(ana, "100.00", d(10), product=printer)
    lost = factory.sale(ana, "100.00", d(18), product=printer)
    ended = end_early(world["admin"], change.spiff, d(15))
    assert ended.version.effective_from == d(16) and ended.version.last_day == d(15)
    assert spiff_cents(ana, change.spiff) == {kept.id: 1225}
    after = factory.sale(ana, "100.00", d(19), product=printer)
    assert after.id not in spiff_cents(ana, change.spiff)
    summary = queries.summarise(db.session.get(Spiff, change.spiff.id), d(20))
    assert (summary.status, summary.first_day, summary.last_day) == ("ended", d(1), d(15))
    with pytest.raises(ServiceError) as refused:
        end_early(world["admin"], change.spiff, d(20))
    assert refused.value.field == "last_day"


def test_ending_early_may_not_reach_into_a_closed_period(world, factory):
    ana, printer = world["ana"], world["printer"]
    change = create_spiff(world["admin"], "push", rules(product_ids=[printer.id], last_day=d(31, 12)))
    stated = factory.sale(ana, "100.00", d(5), product=printer)
    close_period(None, period_for(d(5)))
    with pytest.raises(ServiceError) as refused:
        end_early(world["admin"], change.spiff, d(14))  # the 15th is in the closed Nov 1-15
    assert refused.value.field == "last_day" and "closed period" in refused.value.message
    end_early(world["admin"], change.spiff, d(15))
    assert spiff_cents(ana, change.spiff) == {stated.id: 1225}


def test_too_many_holder_months_go_to_a_job_that_resumes(world, factory, monkeypatch):
    ana, printer = world["ana"], world["printer"]
    bob = factory.user("agent", manager=world["maria"])
    sales = [factory.sale(agent, "100.00", d(5), product=printer) for agent in (ana, bob)]
    monkeypatch.setattr(recompute, "SYNC_LIMIT", 1)
    monkeypatch.setattr(recompute, "BATCH_SIZE", 1)
    change = create_spiff(world["admin"], "push", rules(product_ids=[printer.id]))
    run = change.run
    assert change.recomputed == 0 and run.total == 2 and run.status == RecomputeStatus.QUEUED
    assert spiff_cents(ana, change.spiff) == {}
    recompute.run_recompute(run.id)
    run = db.session.get(SpiffRecompute, run.id)
    assert (run.status, run.done, run.percent) == (RecomputeStatus.DONE, 2, 100)
    assert spiff_cents(ana, change.spiff) == {sales[0].id: 1225}
    assert spiff_cents(bob, change.spiff) == {sales[1].id: 1225}
    assert recompute.run_recompute(run.id).done == 2  # a duplicate job changes nothing


def test_a_run_whose_worker_died_mid_batch_is_swept_and_resumes(world, factory, monkeypatch, at, empty_queues):
    from datetime import datetime, timedelta, timezone

    from tests.support.queues import jobs

    ana, printer = world["ana"], world["printer"]
    bob = factory.user("agent", manager=world["maria"])
    sales = [factory.sale(agent, "100.00", d(5), product=printer) for agent in (ana, bob)]
    monkeypatch.setattr(recompute, "SYNC_LIMIT", 1)
    monkeypatch.setattr(recompute, "BATCH_SIZE", 1)
    run = create_spiff(world["admin"], "push", rules(product_ids=[printer.id])).run
    started = at(datetime.now(timezone.utc))
    real_recompute, calls = recompute._recompute, []

    def killed_on_the_second_batch(pairs):
        """The first batch commits; then the worker dies (no except clause runs, as with SIGKILL)."""
        calls.append(pairs)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_recompute(pairs)

    monkeypatch.setattr(recompute, "_recompute", killed_on_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        recompute.run_recompute(run.id)
    db.session.expire_all()
    run = db.session.get(SpiffRecompute, run.id)
    assert (run.status, run.done) == (RecomputeStatus.RUNNING, 1)
    at(started + timedelta(minutes=4))
    assert recompute.requeue_stalled() == []  # progress 4 minutes ago: its worker may be alive
    at(started + timedelta(minutes=6))
    assert recompute.requeue_stalled() == [run.id]
    assert jobs("default") == [("jobs.spiffs.recompute_spiff_change", (run.id,))]
    monkeypatch.setattr(recompute, "_recompute", real_recompute)
    run = recompute.run_recompute(run.id)
    assert (run.status, run.done) == (RecomputeStatus.DONE, 2)
    assert spiff_cents(ana, run.spiff) == {sales[0].id: 1225}
    assert spiff_cents(bob, run.spiff) == {sales[1].id: 1225}
    assert recompute.requeue_stalled() == []  # done: never swept again


def test_touched_pairs_are_holder_months_of_approved_possibly_eligible_sales(world, factory, today):
    ana, printer = world["ana"], world["printer"]
    today(d(10, 12))
    factory.sale(ana, "100.00", d(5), product=printer)
    factory.sale(ana, "100.00", d(3, 12), product=printer)
    factory.sale(ana, "100.00", d(4), product=world["other"])
    touched = recompute.Touched(d(1), d(31, 12), frozenset({printer.id}), frozenset())
    assert recompute.touched_pairs(touched) == [(ana.id, NOV), (ana.id, d(1, 12))]


# ---- Reading ------------------------------------------------------------------------------------


def test_who_earned_what_groups_by_holder_and_month_with_the_cap(world, factory):
    ana, printer, maria = world["ana"], world["printer"], world["maria"]
    bob = factory.user("agent", manager=maria, name="Bob")
    stranger = factory.user("agent", name="Stranger")
    change = create_spiff(world["admin"], "tech", rules(per_unit=None, percent=Decimal("2"), cap=Decimal("100.00"),
                                                        category_ids=[world["tech"].id]))
    for amount, day in (("2400.00", 5), ("3000.00", 9), ("1500.00", 12)):
        factory.sale(ana, amount, d(day), product=printer)
    factory.sale(bob, "500.00", d(6), product=printer)
    factory.sale(stranger, "500.00", d(6), product=printer)
    page = queries.who_earned_what(world["admin"], change.spiff)
    assert [(r.agent_name, r.month, r.lines, r.earned_cents, r.cap_reached) for r in page.rows] == [
        ("Ana", NOV, 3, 10000, True), ("Bob", NOV, 1, 1000, False), ("Stranger", NOV, 1, 1000, False)]
    assert (page.total_cents, page.holders) == (12000, 3)
    team_page = queries.who_earned_what(maria, change.spiff)
    assert [r.agent_name for r in team_page.rows] == ["Ana", "Bob"] and team_page.total_cents == 11000
    assert [r.agent_name for r in queries.who_earned_what(ana, change.spiff).rows] == ["Ana"]  # only their own


def test_dashboard_lists_the_active_spiffs_the_agent_can_earn(world, factory):
    ana, printer = world["ana"], world["printer"]
    capped = create_spiff(world["admin"], "tech", rules(per_unit=None, percent=Decimal("2"), cap=Decimal("100.00"),
                                                        category_ids=[world["tech"].id]))
    create_spiff(world["admin"], "other team", rules(product_ids=[printer.id], team_ids=[factory.user("manager").id]))
    create_spiff(world["admin"], "december", rules(product_ids=[printer.id], first_day=d(1, 12), last_day=d(31, 12)))
    ended = create_spiff(world["admin"], "ended", rules(product_ids=[printer.id]))
    end_early(world["admin"], ended.spiff, d(19))
    factory.sale(ana, "2400.00", d(5), product=printer)
    panel = queries.dashboard_spiffs(ana, d(20))
    assert [(s.name, s.days_left, s.earned_cents, s.cap_cents, s.cap_left_cents) for s in panel] == [
        ("tech", 11, 4800, 10000, 5200)]
    assert panel[0].spiff_id == capped.spiff.id
