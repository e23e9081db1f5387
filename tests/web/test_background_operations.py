"""Heavy operations as jobs (issue 16, item 2): a plan change's recompute, a period's statements and
a bulk decision over every matching sale run inside the request while small, and as a background
operation above OPERATION_INLINE_LIMIT, with the same figures; the progress page, its access, the
retry of a failed operation (CSRF), a retried step that does not double, and the sweep."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import pytest
from rq import Queue
from sqlalchemy import func, select

from tests.conftest import browser_as
from tests.support.queues import jobs
from tests.support.rows import sql_statements
from tests.web._html import flash_messages, html_of, redirect_path, tags
from tests.web.test_admin_plans import _plan_form
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role
from webapp.auth.services import update_user
from webapp.commissions import period_payments
from webapp.commissions.models import CommissionEntry, Payout, Target
from webapp.commissions.payouts import record_payout, reverse_payout
from webapp.commissions.periods import close_period, period_for
from webapp.extensions import db, redis_client
from webapp.operations import services as operations
from webapp.operations.models import BackgroundOperation
from webapp.sales.models import Sale
from webapp.statements import queries
from webapp.statements.models import Statement, StatementRun, StatementStatus

pytestmark = pytest.mark.usefixtures("empty_queues")  # jobs of earlier tests do not count

HTMX_PROGRESS = {"HX-Request": "true", "HX-Target": "operation-progress"}
STEP_JOB = "jobs.operations.run_step"


def d(day: int) -> date:
    """A day of November 2026."""
    return date(2026, 11, day)


@pytest.fixture
def shop(build, factory):
    """Nov 10: Maria's team of five agents on the flat 3% plan, each with two approved sales and a
    pending one; another team's Carl; an admin. Nov 1-15 ends; today is Nov 17."""
    build.on(d(10))
    maria, agents = build.team("Maria", "Ana", "Ben", "Cleo", "Dan", "Eve")
    other, (carl,) = build.team("Sam", "Carl")
    product = factory.product(name="Monitor", sku="MON-1")
    for index, agent in enumerate([*agents, carl]):
        factory.sale(agent, f"{1000 + 100 * index}.00", d(3), product=product)
        factory.sale(agent, "250.50", d(9), product=product)
        factory.sale(agent, f"{300 + index}.00", d(8), product=product, approve=False)
    build.on(d(17))
    # Committed (a savepoint of the test's transaction): a failed step's rollback keeps the world.
    db.session.commit()
    return {"maria": maria, "agents": agents, "sam": other, "carl": carl, "plan": build.plan,
            "admin": factory.user(Role.ADMIN, name="Ada")}


def limit(app, monkeypatch, value: int) -> None:
    """Set OPERATION_INLINE_LIMIT for this test."""
    monkeypatch.setitem(app.config, "OPERATION_INLINE_LIMIT", value)


def ledger() -> list[tuple[int, int | None, str, int]]:
    """Every ledger line: agent, sale, kind, cents (what a recompute must leave identical)."""
    db.session.expire_all()
    return sorted(db.session.execute(select(CommissionEntry.agent_id, CommissionEntry.sale_id, CommissionEntry.kind,
                                            CommissionEntry.amount_cents)).tuples())


def only_operation() -> BackgroundOperation:
    """The one operation stored."""
    db.session.expire_all()
    [operation] = db.session.scalars(select(BackgroundOperation)).all()
    return operation


def empty_step_queue() -> None:
    """Take every job off the operations' queue (a worker took them, or Redis lost them)."""
    Queue(operations.QUEUE, connection=redis_client()).empty()


def step(operation_id: int, done: int):
    """Run one step as the worker does: in a transaction of its own (the test's work committed)."""
    db.session.commit()
    return operations.run_step(operation_id, done)


def drain() -> int:
    """Run the queued operation steps as a worker would, each enqueueing the next; how many ran."""
    ran = 0
    while True:
        steps = [args for name, args in jobs(operations.QUEUE) if name == STEP_JOB]
        if not steps:
            return ran
        empty_step_queue()
        for args in steps:
            step(*args)
            ran += 1


def new_version(app, admin, plan) -> object:
    """The admin adds version 2 of the plan at 5% from Nov 1."""
    return browser_as(app, admin).post(f"/admin/plans/{plan.id}/versions/new",
                                       _plan_form(base_rate="5", effective_from="2026-11-01"))


# --- the same figures inline and through the job ----------------------------------------------------


def at_rate(percent: int) -> list[tuple[int, int, int]]:
    """(agent, sale, cents) each approved sale earns at `percent`, rounded half up once per line."""
    db.session.expire_all()
    sales = db.session.scalars(select(Sale).where(Sale.status == "approved"))
    return sorted((sale.agent_id, sale.id, int((Decimal(sale.amount_cents) * percent / 100).quantize(
        Decimal("1"), rounding=ROUND_HALF_UP))) for sale in sales)


def sale_lines() -> list[tuple[int, int, int]]:
    """(agent, sale, cents) of the sale lines on the ledger."""
    return [(agent, sale, cents) for agent, sale, kind, cents in ledger() if sale is not None]


def test_a_small_plan_change_recomputes_inside_the_request(app, shop, monkeypatch):
    assert sale_lines() == at_rate(3)
    limit(app, monkeypatch, 25)
    response = new_version(app, shop["admin"], shop["plan"])
    assert redirect_path(response) == f"/admin/plans/{shop['plan'].id}"
    assert db.session.scalar(select(func.count()).select_from(BackgroundOperation)) == 0
    assert [name for name, _ in jobs(operations.QUEUE) if name == STEP_JOB] == []
    assert sale_lines() == at_rate(5)
    # Ana's 1,000.00 earns 50.00 and her 250.50 12.53 (12.525 rounded half up).
    assert [cents for agent, _, cents in sale_lines() if agent == shop["agents"][0].id] == [5000, 1253]


def test_a_large_plan_change_runs_as_an_operation_with_exactly_the_inline_figures(app, shop, monkeypatch):
    before = ledger()
    limit(app, monkeypatch, 2)
    response = new_version(app, shop["admin"], shop["plan"])
    operation = only_operation()
    assert response.status_code == 303
    assert redirect_path(response) == f"/operations/{operation.id}"
    assert (operation.kind, operation.status, operation.total, operation.done) == ("plan_recompute", "queued", 6, 0)
    assert [args for name, args in jobs(operations.QUEUE) if name == STEP_JOB] == [(operation.id, 0)]
    assert ledger() == before, "nothing is recomputed inside the request"
    admin = browser_as(app, shop["admin"])
    page = html_of(admin.get(f"/operations/{operation.id}"))
    assert 'hx-trigger="every 2s"' in page and "Waiting to start" in page
    assert drain() == 1  # six agents fit one step of 25
    assert only_operation().status == "done"
    # Exactly what the inline path gives (the test above).
    assert sale_lines() == at_rate(5)
    assert [cents for agent, _, cents in sale_lines() if agent == shop["agents"][0].id] == [5000, 1253]
    fragment = admin.get(f"/operations/{operation.id}", headers=HTMX_PROGRESS)
    assert fragment.status_code == 286 and "All done" in html_of(fragment)
    assert f'href="/admin/plans/{shop["plan"].id}"' in html_of(fragment)


def test_a_retried_step_does_not_double_anything(app, shop, monkeypatch):
    limit(app, monkeypatch, 2)
    monkeypatch.setattr(operations, "STEP", 2)
    new_version(app, shop["admin"], shop["plan"])
    operation = only_operation()
    assert operation.total == 6
    step(operation.id, 0)
    after_first = ledger()
    # The same job delivered twice (a retry after a lost acknowledgement, a sweep): no-op.
    step(operation.id, 0)
    assert only_operation().done == 2 and ledger() == after_first
    assert jobs(operations.QUEUE) == [(STEP_JOB, (operation.id, 0)), (STEP_JOB, (operation.id, 2))]
    db.session.commit()
    operations.run_to_end(operation.id)
    final = ledger()
    assert only_operation().done == 6
    # Running the whole operation's work again changes nothing either (recomputes are idempotent).
    again = operations.start(shop["admin"], "plan_recompute", only_operation().items, plan_id=shop["plan"].id,
                             since="2026-11-01")
    db.session.commit()
    operations.run_to_end(again.id)
    assert ledger() == final


# --- a period's statements ----------------------------------------------------------------------------


def _issue(app, shop) -> object:
    """Maria issues Nov 1-15 from the statements page."""
    maria = browser_as(app, shop["maria"])
    period = period_for(d(1))
    return maria.post("/statements/issue", {"period_id": str(period.id), "confirm": "y"}, token_from="/statements/issue")


def _statements() -> list[tuple[int, int, int]]:
    """(number, agent, closing balance) of every statement issued."""
    db.session.expire_all()
    return sorted((s.number, s.agent_id, s.snapshot["totals"]["closing"]) for s in db.session.scalars(select(Statement)))


@pytest.mark.parametrize("inline_limit", [25, 3])
def test_issuing_a_period_gives_the_same_statements_inline_and_as_an_operation(app, shop, monkeypatch,
                                                                                 inline_limit):
    limit(app, monkeypatch, inline_limit)
    response = _issue(app, shop)
    assert response.status_code == 303
    db.session.expire_all()
    run = db.session.scalar(select(StatementRun))
    assert period_for(d(1)).status == "closed"
    if inline_limit == 3:
        operation = only_operation()
        assert redirect_path(response) == f"/operations/{operation.id}"
        assert (operation.kind, operation.total) == ("period_issue", 6)  # every agent is a candidate
        assert _statements() == []
        drain()
        assert only_operation().status == "done"
        page = html_of(browser_as(app, shop["maria"]).get(f"/operations/{operation.id}"))
        assert f'href="/statements/runs/{run.id}"' in page
    else:
        assert redirect_path(response) == f"/statements/runs/{run.id}"
    # Maria's five agents and Carl, numbered one after another in name order (on PostgreSQL the
    # numbering sequence goes on past the rolled-back runs of other tests), same closing balances.
    agents = {agent.id: agent.name for agent in [*shop["agents"], shop["carl"]]}
    issued = _statements()
    first = issued[0][0]
    assert [(number - first, agents[agent]) for number, agent, _ in issued] == [
        (0, "Ana"), (1, "Ben"), (2, "Carl"), (3, "Cleo"), (4, "Dan"), (5, "Eve")]
    # 3% of the approved sales: Ana 1,000.00 + 250.50 -> 30.00 + 7.52 (half up of 7.515).
    assert next(closing for _, agent, closing in issued if agents[agent] == "Ana") == 3752
    assert [(name, args[0]) for name, args in jobs("default") if name == "jobs.statements.render_statement"] == [
        ("jobs.statements.render_statement", s.id) for s in
        db.session.scalars(select(Statement).order_by(Statement.id))]


def test_a_retried_issue_step_issues_nothing_twice(app, shop, monkeypatch):
    limit(app, monkeypatch, 3)
    monkeypatch.setattr(operations, "STEP", 4)
    _issue(app, shop)
    operation = only_operation()
    step(operation.id, 0)
    first = _statements()
    assert len(first) == 4
    # Pretend the commit of `done` was lost after the statements were kept (it is one commit, but a
    # step must hold up on its own): the same batch again issues no second statement.
    operation = only_operation()
    operation.done = 0
    db.session.commit()
    step(operation.id, 0)
    assert _statements() == first
    db.session.commit()
    operations.run_to_end(operation.id)
    assert len(_statements()) == 6 and len({agent for _, agent, _ in _statements()}) == 6


RUN_PROGRESS = {"HX-Request": "true", "HX-Target": "run-progress"}


def _settle_statements() -> None:
    """Every statement issued so far reaches a final state (its PDF failed: no email follows)."""
    for statement in db.session.scalars(select(Statement)):
        statement.status, statement.render_error = StatementStatus.FAILED, "Test: settled"
    db.session.commit()


def _run_fragment(app, shop, run_id: int):
    """(status, html) of the run's progress fragment as Maria's page polls it."""
    response = browser_as(app, shop["maria"]).get(f"/statements/runs/{run_id}", headers=RUN_PROGRESS)
    return response.status_code, html_of(response)


def test_the_run_page_waits_for_the_operation_still_issuing_its_statements(app, shop, monkeypatch):
    limit(app, monkeypatch, 3)
    monkeypatch.setattr(operations, "STEP", 4)
    _issue(app, shop)
    run, operation = db.session.scalar(select(StatementRun)), only_operation()
    status, html = _run_fragment(app, shop, run.id)
    assert status == 200 and "Working" in html and "No statements issued yet." in html
    assert "0 of 6 agents checked" in html and f'href="/operations/{operation.id}"' in html

    step(operation.id, 0)  # four agents' statements issued, all of them settled
    _settle_statements()
    status, html = _run_fragment(app, shop, run.id)
    # Every statement issued so far is settled, but two agents are still to come: keep polling.
    assert status == 200 and 'hx-trigger="every 2s"' in html and "Finished" not in html
    assert "4 of 6 agents checked" in html
    assert not queries.run_progress(shop["maria"], run).finished  # the API's `finished` too

    drain()
    _settle_statements()
    status, html = _run_fragment(app, shop, run.id)
    # Maria sees her five agents' statements (Carl's is Sam's to see).
    assert status == 286 and "Finished with 5 problems" in html and 'data-testid="run-issuing"' not in html
    assert queries.run_progress(shop["maria"], run).finished


def test_the_run_page_says_when_issuing_stopped_and_where_to_retry(app, shop, monkeypatch):
    from webapp.statements import services as statement_services

    limit(app, monkeypatch, 3)
    monkeypatch.setattr(operations, "STEP", 4)
    _issue(app, shop)
    run, operation = db.session.scalar(select(StatementRun)), only_operation()
    step(operation.id, 0)
    original = statement_services._issue
    monkeypatch.setattr(statement_services, "_issue", lambda *args: (_ for _ in ()).throw(RuntimeError("disk full")))
    step(operation.id, 4)
    assert only_operation().status == "failed"
    status, html = _run_fragment(app, shop, run.id)
    # Nothing changes until someone retries: stop polling, say why and where.
    assert status == 286 and "Issuing stopped" in html and "after 4 of 6 agents" in html
    assert "RuntimeError: disk full" in html and f'href="/operations/{operation.id}"' in html
    assert not queries.run_progress(shop["maria"], run).finished
    # Another manager may see the run but not follow Maria's operation: no dead link.
    sam_page = html_of(browser_as(app, shop["sam"]).get(f"/statements/runs/{run.id}", headers=RUN_PROGRESS))
    assert "Issuing stopped" in sam_page and f'href="/operations/{operation.id}"' not in sam_page

    monkeypatch.setattr(statement_services, "_issue", original)
    operations.retry(only_operation())
    db.session.commit()
    drain()
    assert len(_statements()) == 6


# --- paying a closed period's statements ------------------------------------------------------------


def _close_first_half() -> None:
    """Nov 1-15 is closed, as its statement run leaves it."""
    close_period(None, period_for(d(3)))
    db.session.commit()


def _pay_all(app, manager) -> object:
    """The manager confirms "pay all statements" of Nov 1-15 as the page showed it."""
    browser = browser_as(app, manager)
    page = html_of(browser.get("/manage/payouts/pay-period"))
    fields = {tag.attrs["name"]: tag.attrs["value"] for tag in tags(page, "input")
              if tag.attrs.get("name") in ("period", "digest")}
    assert set(fields) == {"period", "digest"}, page[:300]
    return browser.post("/manage/payouts/pay-period", fields, token_from="/manage/payouts/pay-period")


def _payouts() -> list[tuple[int, int, date, str]]:
    """(agent, cents, paid on, reference) of every payout."""
    db.session.expire_all()
    return sorted(db.session.execute(select(Payout.agent_id, Payout.amount_cents, Payout.paid_on,
                                            Payout.reference)).tuples())


def _closing_of_first_half(agent_ids) -> dict[int, int]:
    """3% of each agent's approved Nov 1-15 sales, rounded per line: what paying the period pays."""
    db.session.expire_all()
    found: dict[int, int] = {}
    for agent_id, cents in db.session.execute(select(Sale.agent_id, Sale.amount_cents).where(
            Sale.agent_id.in_(agent_ids), Sale.status == "approved", Sale.sold_on <= d(15))):
        found[agent_id] = found.get(agent_id, 0) + int((Decimal(cents) * 3 / 100).quantize(Decimal("1"), ROUND_HALF_UP))
    return found


@pytest.mark.parametrize("inline_limit", [25, 2])
def test_paying_a_period_pays_the_same_inline_or_as_an_operation(app, shop, monkeypatch, inline_limit):
    _close_first_half()
    limit(app, monkeypatch, inline_limit)
    team = [agent.id for agent in shop["agents"]]
    response = _pay_all(app, shop["maria"])
    if inline_limit == 2:
        operation = only_operation()
        assert response.status_code == 303 and redirect_path(response) == f"/operations/{operation.id}"
        assert (operation.kind, operation.total) == ("period_payment", 5)
        assert _payouts() == [], "nothing is paid inside the request"
        assert drain() == 1
        assert only_operation().status == "done"
        assert only_operation().result["figures"] == {
            "Statements paid": 5, "Total paid": f"${Decimal(sum(_closing_of_first_half(team).values())) / 100:,.2f}"}
        page = html_of(browser_as(app, shop["maria"]).get(f"/operations/{operation.id}"))
        assert "Statements paid" in page and 'href="/manage/payouts"' in page
    else:
        assert redirect_path(response) == "/manage/payouts"
        assert db.session.scalar(select(func.count()).select_from(BackgroundOperation)) == 0
    # Each of Maria's agents (not Sam's Carl) is paid their closing balance once, dated today.
    assert _payouts() == sorted((agent, cents, d(17), "Period Nov 1–15, 2026")
                                for agent, cents in _closing_of_first_half(team).items())
    # Paying again pays nothing more: the payouts dated after the period count toward it.
    period = period_for(d(3))
    assert all(p.amount == 0 for p in period_payments.period_payment_plan(shop["maria"], period))
    assert period_payments.pay_period(shop["maria"], period, None) == [] and len(_payouts()) == 5
    # Each with its audit event, stored as one recorded by hand (Sam pays Carl) is: the same SQL for
    # "before", the figures after.
    by_hand = record_payout(shop["sam"], agent_id=shop["carl"].id, amount_cents=100, paid_on=d(17))
    db.session.flush()
    audited = {row.object_id: row for row in db.session.execute(
        select(AuditEvent.object_id, AuditEvent.before.is_(None).label("sql_null"), AuditEvent.after)
        .where(AuditEvent.action == "payout.create"))}
    payouts = {p.id: p for p in db.session.scalars(select(Payout))}
    assert sorted(audited) == sorted(payouts)
    for object_id, payout in payouts.items():
        assert audited[object_id].sql_null == audited[by_hand.id].sql_null
        if object_id != by_hand.id:
            assert audited[object_id].after == {
                "agent_id": payout.agent_id, "amount_cents": payout.amount_cents, "paid_on": "2026-11-17",
                "reference": "Period Nov 1–15, 2026", "advance": False, "reverses_id": None}


def test_a_payment_step_run_again_pays_no_one_twice(app, shop, monkeypatch):
    _close_first_half()
    limit(app, monkeypatch, 2)
    _pay_all(app, shop["maria"])
    operation = only_operation()
    batch = list(operation.items)
    kind = operations.KINDS["period_payment"]
    kind.step(operation, batch[:3])
    db.session.commit()
    # The last agent of the batch, not paid yet, is paid 5.00 by hand meanwhile.
    last = batch[-1]
    record_payout(shop["maria"], agent_id=last, amount_cents=500, paid_on=d(17))
    db.session.commit()
    # The same batch again (a retry of a step that had committed) and the rest: what is due is
    # worked out again under the locks, so nobody is paid twice and the rest are paid.
    kind.step(operation, batch)
    db.session.commit()
    paid = _payouts()
    assert sorted({agent for agent, *_ in paid}) == sorted(batch) and len(paid) == 6
    owed = _closing_of_first_half([last])[last]
    assert sorted(cents for agent, cents, *_ in paid if agent == last) == sorted([500, owed - 500])
    assert operation.result == {"paid": 5, "paid_cents": sum(_closing_of_first_half(batch).values()) - 500}


def test_a_payment_step_pays_no_more_than_the_page_showed_and_names_who_left_the_team(app, shop, monkeypatch):
    """Between the confirmation and the step, Ana's money owed goes up (a reversed payout makes the
    period's balance due again) and Ben moves to Sam's team."""
    _close_first_half()
    ana, ben = shop["agents"][0], shop["agents"][1]
    owed = _closing_of_first_half([ana.id])[ana.id]
    early = record_payout(shop["maria"], agent_id=ana.id, amount_cents=1000, paid_on=d(17))
    db.session.commit()
    limit(app, monkeypatch, 2)
    _pay_all(app, shop["maria"])  # shows Ana owed - 10.00
    operation = only_operation()
    reverse_payout(shop["maria"], early, reason="Bounced")
    update_user(None, ben, name=ben.name, role=ben.role, manager_id=shop["sam"].id, active=True)
    db.session.commit()
    drain()
    done = only_operation()
    assert done.status == "done"
    paid = {agent: cents for agent, cents, _, reference in _payouts() if (reference or "").startswith("Period")}
    assert paid[ana.id] == owed - 1000, "what the page showed, not the 10.00 due again since"
    assert ben.id not in paid
    assert done.errors == [f"Agent #{ben.id} is no longer on your team; not paid."]


def test_paying_a_large_team_inline_takes_the_same_statements_as_a_small_one(app, shop, factory, build):
    """Set-based: no statement per agent (the team's locks, the plan, the payouts and the audit rows in bulk)."""
    build.on(d(10))
    maria = shop["maria"]
    for _ in range(12):
        agent = factory.user(Role.AGENT, manager=maria)
        factory.assign(agent, shop["plan"])
        factory.sale(agent, "500.00", d(4))
    build.on(d(17))
    _close_first_half()
    period = period_for(d(3))

    def paying(manager) -> tuple[int, int]:
        """(payouts made, SQL statements sent) when the manager pays the period."""
        digest = period_payments.plan_digest(period, period_payments.period_payment_plan(manager, period))
        with sql_statements(transaction_control=False) as seen:
            made = period_payments.pay_period(manager, period, digest)
        db.session.rollback()
        return len(made), len(seen)

    sams, marias = paying(shop["sam"]), paying(maria)
    assert (sams[0], marias[0]) == (1, 17)
    assert marias[1] == sams[1], "as many statements for 17 agents as for one"


# --- bulk decisions over every matching sale ------------------------------------------------------


def _decide_all(app, shop, action: str = "approve", **extra) -> object:
    """Maria decides every matching pending sale of her queue."""
    maria = browser_as(app, shop["maria"])
    return maria.post("/manage/review/bulk", {"action": action, "scope": "all", "reason": "", **extra},
                      token_from="/manage/review")


def _pending(agent_ids) -> int:
    """Pending sales of these agents."""
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Sale).where(Sale.agent_id.in_(agent_ids),
                                                                          Sale.status == "pending"))


@pytest.mark.parametrize("inline_limit", [25, 2])
def test_deciding_all_matching_sales_inline_or_as_an_operation(app, shop, monkeypatch, inline_limit):
    limit(app, monkeypatch, inline_limit)
    team = [agent.id for agent in shop["agents"]]
    before = ledger()
    response = _decide_all(app, shop)
    assert response.status_code in (302, 303)
    if inline_limit == 2:
        operation = only_operation()
        assert redirect_path(response) == f"/operations/{operation.id}"
        assert (operation.kind, operation.total) == ("bulk_decision", 5)
        assert _pending(team) == 5 and ledger() == before
        drain()
        assert only_operation().status == "done" and only_operation().result["figures"]["Approved"] == 5
    else:
        assert redirect_path(response) == "/manage/review"
    assert _pending(team) == 0 and _pending([shop["carl"].id]) == 1, "only Maria's team"
    # 3% of each pending sale (300.00 + index) is now on the ledger: 9.00, 9.03, ...
    ana = shop["agents"][0].id
    assert sorted(cents for agent, _, _, cents in ledger() if agent == ana) == [752, 900, 3000]


def test_a_bulk_operation_lists_sales_refused_meanwhile(app, shop, monkeypatch, factory):
    limit(app, monkeypatch, 2)
    _decide_all(app, shop, "reject", reason="Duplicate order")
    operation = only_operation()
    # A colleague approves one of them before the job gets to it.
    first = db.session.get(Sale, operation.items[0])
    from webapp.sales.services import approve_sale
    approve_sale(shop["admin"], first)
    db.session.commit()
    drain()
    operation = only_operation()
    assert operation.status == "done" and len(operation.errors) == 1
    assert operation.errors[0].startswith(f"Sale #{first.id}: ")
    page = html_of(browser_as(app, shop["maria"]).get(f"/operations/{operation.id}"))
    assert "Finished with 1 problem" in page and f"Sale #{first.id}" in page


def test_a_rejection_of_all_matching_without_a_reason_is_refused_and_starts_nothing(app, shop, monkeypatch):
    limit(app, monkeypatch, 2)
    response = _decide_all(app, shop, "reject")
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(BackgroundOperation)) == 0 and jobs(operations.QUEUE) == []


def test_the_queue_offers_all_matching_sales_only_beyond_a_page(app, shop, monkeypatch):
    from webapp.manage import queue
    maria = browser_as(app, shop["maria"])
    assert 'name="scope"' not in html_of(maria.get("/manage/review"))
    monkeypatch.setattr(queue, "PAGE_SIZE", 2)
    assert "All 5 matching sales" in html_of(maria.get("/manage/review"))


# --- the page: access, failure, retry, sweep ----------------------------------------------------------


@pytest.fixture
def failed(app, shop, monkeypatch):
    """Maria's bulk approval whose first step failed (the database went away)."""
    limit(app, monkeypatch, 2)
    _decide_all(app, shop)
    operation = only_operation()

    def broken(*_args):
        raise RuntimeError("the database went away")
    monkeypatch.setitem(operations.KINDS, "bulk_decision",
                        operations.Kind("bulk_decision", "Deciding", step=broken))
    step(operation.id, 0)
    empty_step_queue()  # the worker took that job
    monkeypatch.undo()
    limit(app, monkeypatch, 2)
    return only_operation()


def test_a_failed_operation_shows_its_error_and_a_retry_button(app, shop, failed):
    assert (failed.status, failed.done) == ("failed", 0)
    assert _pending([a.id for a in shop["agents"]]) == 5, "the failed step's work was rolled back"
    maria = browser_as(app, shop["maria"])
    page = html_of(maria.get(f"/operations/{failed.id}"))
    assert "Stopped" in page and "RuntimeError: the database went away" in page and "Try again" in page
    fragment = maria.get(f"/operations/{failed.id}", headers=HTMX_PROGRESS)
    assert fragment.status_code == 286


def test_retrying_a_failed_operation_resumes_it(app, shop, failed):
    maria = browser_as(app, shop["maria"])
    url = f"/operations/{failed.id}"
    response = maria.post(f"{url}/retry", token_from=url)
    assert response.status_code == 303 and redirect_path(response) == url
    assert only_operation().status == "queued"
    assert (STEP_JOB, (failed.id, 0)) in jobs(operations.QUEUE)
    drain()
    assert only_operation().status == "done" and _pending([a.id for a in shop["agents"]]) == 0
    assert flash_messages(html_of(maria.get(url))) == ["The operation is queued again."]


def test_retry_needs_the_csrf_token(app, shop, failed):
    maria = browser_as(app, shop["maria"])
    response = maria.client.post(f"/operations/{failed.id}/retry", data={})
    assert response.status_code in (400, 403)
    assert only_operation().status == "failed" and jobs(operations.QUEUE) == []


def test_only_its_creator_scope_sees_an_operation(app, shop, failed, factory):
    url = f"/operations/{failed.id}"
    assert browser_as(app, shop["admin"]).get(url).status_code == 200
    assert browser_as(app, shop["maria"]).get(url).status_code == 200
    for other in (shop["sam"], shop["agents"][0], shop["carl"]):
        browser = browser_as(app, other)
        assert browser.get(url).status_code == 404
        assert browser.post(f"{url}/retry", token_from="/statements").status_code == 404
    assert only_operation().status == "failed"


def test_the_sweep_requeues_an_operation_whose_job_was_lost(app, shop, monkeypatch, at):
    limit(app, monkeypatch, 2)
    _decide_all(app, shop)
    operation = only_operation()
    empty_step_queue()  # Redis lost the job
    assert operations.requeue_stalled() == []
    at(datetime.now(timezone.utc) + timedelta(minutes=6))
    assert operations.requeue_stalled() == [operation.id]
    assert operations.requeue_stalled() == [operation.id]
    assert jobs(operations.QUEUE) == [(STEP_JOB, (operation.id, 0))], "a waiting step is not doubled"
    drain()
    assert only_operation().status == "done"


def test_the_sweep_is_scheduled_every_five_minutes():
    from jobs.schedule import DECLARED
    sweep = next(job for job in DECLARED if job.func == "jobs.operations.sweep")
    assert sweep.interval == 300


# --- target import ---------------------------------------------------------------------------------


def _upload(app, shop, text: str):
    """The admin uploads a targets CSV on the targets page."""
    admin = browser_as(app, shop["admin"])
    return admin.post("/admin/targets/import", {"file": (io.BytesIO(text.encode()), "targets.csv")},
                      token_from="/admin/targets")


def _targets() -> list[tuple[int, date, int]]:
    """(agent, month, cents) of every stored target."""
    db.session.expire_all()
    return sorted(db.session.execute(select(Target.agent_id, Target.month, Target.amount_cents)).tuples())


def _csv(shop) -> str:
    """Targets for Ana, Ben and Carl in November and December."""
    ana, ben = shop["agents"][0].email, shop["agents"][1].email
    return ("email,month,amount\n"
            f"{ana},2026-11,25000.00\n{ben.upper()},2026-11,1000\n{shop['carl'].email},2026-12,500.50\n")


@pytest.mark.parametrize("inline_limit", [25, 1])
def test_a_target_import_sets_every_target_inline_or_as_an_operation(app, shop, monkeypatch, inline_limit):
    limit(app, monkeypatch, inline_limit)
    response = _upload(app, shop, _csv(shop))
    assert response.status_code in (302, 303)
    if inline_limit == 1:
        operation = only_operation()
        assert redirect_path(response) == f"/operations/{operation.id}"
        assert (operation.kind, operation.total) == ("target_import", 3) and _targets() == []
        drain()
        assert only_operation().status == "done"
    else:
        assert redirect_path(response) == "/admin/targets"
    ana, ben, carl = shop["agents"][0].id, shop["agents"][1].id, shop["carl"].id
    assert _targets() == sorted([(ana, d(1), 2500000), (ben, d(1), 100000), (carl, date(2026, 12, 1), 50050)])


def test_a_target_import_with_a_bad_row_imports_nothing_and_names_each_row(app, shop, monkeypatch):
    limit(app, monkeypatch, 1)
    ana = shop["agents"][0].email
    text = (_csv(shop) + "nobody@example.com,2026-11,10.00\n"
            f"{ana},11/2026,10.00\n{ana},2026-10,-5\n{ana},2026-11,30000.00\n")
    response = _upload(app, shop, text)
    assert response.status_code == 422
    page = html_of(response)
    assert "4 rows of the file cannot be imported; nothing was imported." in page
    assert "Line 5: no agent has the email &#39;nobody@example.com&#39;." in page
    assert "Line 6: write the month as YYYY-MM." in page
    assert "Line 7: enter a target amount that is not negative." in page
    assert "Line 8: repeats line 2." in page
    assert _targets() == [] and db.session.scalar(select(func.count()).select_from(BackgroundOperation)) == 0


@pytest.mark.parametrize("text, message", [
    ("", "The first line must be the header email,month,amount."),
    ("email,amount\nx,1\n", "The first line must be the header email,month,amount."),
    ("email,month,amount\n", "The file has a header but no rows."),
    ("email,month,amount\nana\x00@example.com,2026-11,1.00\n", "it contains NUL bytes"),
])
def test_a_target_file_that_is_not_a_targets_csv_is_refused_beside_the_field(app, shop, text, message):
    response = _upload(app, shop, text)
    assert response.status_code == 422 and message in html_of(response) and _targets() == []


def test_a_target_import_without_a_file_is_refused(app, shop):
    response = browser_as(app, shop["admin"]).post("/admin/targets/import", {}, token_from="/admin/targets")
    assert response.status_code == 422 and "Choose a CSV file." in html_of(response)
