"""Dispute services: open, reply, accept with an adjustment, reject; who may do what; emails."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from webapp.audit.models import AuditEvent
from webapp.auth import access
from webapp.auth.models import Role
from webapp.commissions import ledger
from webapp.commissions.models import CommissionEntry, EntryKind
from webapp.commissions.periods import close_period, period_for
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.mail.services import deliver_email, pending_email_ids
from webapp.disputes import services as disputes
from webapp.disputes.models import Dispute, DisputeMessage
from webapp.sales.services import void_sale
from tests.services.test_concurrency import WAIT, committed  # noqa: F401  (fixture: real commits, PostgreSQL only)
from tests.support.committed import in_threads, own_session

TODAY = date(2026, 11, 20)


@pytest.fixture
def setup(build, factory):
    """An agent on a 3% plan with one approved sale (its line: 30.00), and their manager."""
    build.on(TODAY)
    agent = build.agent()
    sale = factory.sale(agent, "1000.00", date(2026, 11, 18))
    entry = db.session.scalar(select(CommissionEntry).where(CommissionEntry.sale_id == sale.id))
    assert entry.amount_cents == 3000
    return agent, agent.manager, sale, entry


def _counts() -> dict[str, int]:
    """Row counts of everything a dispute action may write."""
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Dispute, DisputeMessage, CommissionEntry, AuditEvent, OutgoingEmail)}


def _emails() -> list[OutgoingEmail]:
    """Queued emails about disputes, oldest first."""
    return list(db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.key.like("dispute-%"))
                                   .order_by(OutgoingEmail.id)))


# --- opening -------------------------------------------------------------------------------------

def test_agent_opens_a_dispute_on_own_line_and_the_manager_is_emailed(setup):
    agent, manager, sale, entry = setup
    dispute = disputes.open_dispute(agent, entry.id, "  The rate should be 5% for this product.  ")
    assert (dispute.status, dispute.entry_id, dispute.agent_id, dispute.sale_id) == ("open", entry.id, agent.id, sale.id)
    assert (dispute.entry_amount_cents, dispute.period_id) == (3000, entry.period_id)
    [message] = dispute.messages
    assert (message.author_id, message.body) == (agent.id, "The rate should be 5% for this product.")
    [email] = _emails()
    assert (email.key, email.to) == (f"dispute-{dispute.id}-opened", manager.email)
    assert "The rate should be 5% for this product." in email.text
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.object_type == "Dispute")) == "dispute.open"


def test_another_agents_line_is_not_found(setup, factory):
    _, _, _, entry = setup
    other = factory.user(Role.AGENT)
    before = _counts()
    with pytest.raises(NotFound):
        disputes.open_dispute(other, entry.id, "Mine?")
    with pytest.raises(NotFound):
        disputes.open_dispute(other, 10**9, "No such line")
    with pytest.raises(NotFound):  # managers answer disputes; they do not open them
        disputes.open_dispute(setup[1], entry.id, "Hm")
    assert _counts() == before


@pytest.mark.parametrize("comment", ["", "   ", None, "x" * 2001])
def test_an_empty_or_overlong_comment_is_refused_and_nothing_is_written(setup, comment):
    agent, _, _, entry = setup
    before = _counts()
    with pytest.raises(ServiceError) as error:
        disputes.open_dispute(agent, entry.id, comment)
    assert (error.value.status, error.value.field) == (422, "comment")
    assert _counts() == before


def test_one_open_dispute_per_line_and_a_resolved_line_may_be_disputed_again(setup):
    agent, manager, _, entry = setup
    first = disputes.open_dispute(agent, entry.id, "Wrong rate.")
    with pytest.raises(ServiceError) as error:
        disputes.open_dispute(agent, entry.id, "Again!")
    assert error.value.status == 409
    disputes.reject(manager, first, "The rate is right: 3% all year.")
    second = disputes.open_dispute(agent, entry.id, "I still think it is wrong.")
    assert second.id != first.id and second.is_open


def test_two_simultaneous_opens_leave_one_open_dispute(setup, monkeypatch):
    agent, _, _, entry = setup
    disputes.open_dispute(agent, entry.id, "First.")
    # The second request checked before the first committed: only the unique index stops it.
    monkeypatch.setattr(disputes, "open_dispute_for", lambda entry_id: None)
    before = _counts()
    with pytest.raises(ServiceError) as error:
        disputes.open_dispute(agent, entry.id, "Second.")
    assert error.value.status == 409
    assert _counts() == before
    assert db.session.scalar(select(func.count()).select_from(Dispute).where(Dispute.status == "open")) == 1


# --- replies -------------------------------------------------------------------------------------

def test_replies_build_one_thread_and_email_the_other_side(setup):
    agent, manager, _, entry = setup
    dispute = disputes.open_dispute(agent, entry.id, "Wrong rate.")
    answer = disputes.reply(manager, dispute, "Which rate did you expect?")
    again = disputes.reply(agent, dispute, "5%, as in the October plan.")
    assert [m.body for m in dispute.messages] == ["Wrong rate.", "Which rate did you expect?", "5%, as in the October plan."]
    emails = {e.key: e for e in _emails()}
    assert emails[f"dispute-{dispute.id}-reply-{answer.id}"].to == agent.email
    assert emails[f"dispute-{dispute.id}-reply-{again.id}"].to == manager.email
    assert "5%, as in the October plan." in emails[f"dispute-{dispute.id}-reply-{again.id}"].text


def test_who_may_reply(setup, factory):
    agent, _, _, entry = setup
    dispute = disputes.open_dispute(agent, entry.id, "Wrong rate.")
    for outsider in (factory.user(Role.MANAGER), factory.user(Role.AGENT)):
        with pytest.raises(NotFound):
            disputes.reply(outsider, dispute, "Not my business.")
    admin = factory.user(Role.ADMIN)
    assert disputes.reply(admin, dispute, "Looking into it.").author_id == admin.id
    with pytest.raises(ServiceError) as error:
        disputes.reply(agent, dispute, "   ")
    assert (error.value.status, error.value.field) == (422, "body")


def test_a_resolved_dispute_takes_no_more_replies(setup):
    agent, manager, _, entry = setup
    dispute = disputes.open_dispute(agent, entry.id, "Wrong rate.")
    disputes.reject(manager, dispute, "Correct as is.")
    before = _counts()
    with pytest.raises(ServiceError) as error:
        disputes.reply(agent, dispute, "But...")
    assert error.value.status == 409
    assert _counts() == before


# --- accepting -----------------------------------------------------------------------------------

def test_accepting_posts_a_manual_entry_in_todays_period_and_moves_the_balance(setup):
    agent, manager, sale, entry = setup
    dispute = disputes.open_dispute(agent, entry.id, "Should be 5%: 50.00, not 30.00.")
    balance = ledger.agent_balance(agent.id)
    disputes.accept(manager, dispute, 2000, "Agreed: the October plan applies.")
    adjustment = dispute.adjustment_entry
    assert (dispute.status, dispute.resolved_by_id, dispute.resolution_note) == (
        "accepted", manager.id, "Agreed: the October plan applies.")
    assert dispute.resolved_at is not None
    assert (adjustment.kind, adjustment.amount_cents, adjustment.agent_id, adjustment.sale_id) == (
        EntryKind.MANUAL, 2000, agent.id, sale.id)
    assert adjustment.period_id == period_for(TODAY).id and adjustment.period.is_open
    assert adjustment.created_by_id == manager.id and f"Dispute #{dispute.id}" in adjustment.reason
    assert ledger.agent_balance(agent.id).unpaid == balance.unpaid + 2000
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"dispute.accept", "ledger.adjust"} <= actions


def test_the_adjustment_survives_a_recompute_of_the_month(setup):
    agent, manager, sale, entry = setup
    dispute = disputes.open_dispute(agent, entry.id, "Too low.")
    disputes.accept(manager, dispute, 2000)
    ledger.lock_agent(agent.id)
    ledger.recompute_agent_month(agent.id, sale.sold_on)
    db.session.expire_all()
    assert db.session.get(CommissionEntry, dispute.adjustment_entry_id).amount_cents == 2000
    assert db.session.get(CommissionEntry, entry.id).amount_cents == 3000


def test_accepting_a_line_of_a_closed_period_posts_in_the_open_period_and_statements_reconcile(
        app, factory, today):
    today(date(2026, 11, 10))
    agent = factory.user(Role.AGENT)
    factory.assign(agent, factory.plan(base_rate="3"))
    sale = factory.sale(agent, "1000.00", date(2026, 11, 5))
    entry = db.session.scalar(select(CommissionEntry).where(CommissionEntry.sale_id == sale.id))
    today(TODAY)
    closed = close_period(None, entry.period)
    dispute = disputes.open_dispute(agent, entry.id, "The stated line is short by 10.00.")
    disputes.accept(agent.manager, dispute, 1000, "Short by 10.00.")
    current = period_for(TODAY)
    assert dispute.adjustment_entry.period_id == current.id != closed.id
    assert db.session.get(CommissionEntry, entry.id).amount_cents == 3000  # the frozen line is untouched
    first, second = ledger.period_summary(agent.id, closed), ledger.period_summary(agent.id, current)
    assert (first.total, first.closing) == (3000, 3000)
    assert (second.opening, second.adjustments, second.total) == (3000, 1000, 1000)
    assert second.closing == second.opening + second.total - second.payouts == ledger.agent_balance(agent.id).unpaid


def test_a_negative_adjustment_deducts(setup):
    agent, manager, _, entry = setup
    dispute = disputes.open_dispute(agent, entry.id, "I was paid twice for this.")
    before = ledger.agent_balance(agent.id).unpaid
    disputes.accept(manager, dispute, -3000)
    assert ledger.agent_balance(agent.id).unpaid == before - 3000


@pytest.mark.parametrize("amount", [0, None, True, "10", 10**13, -(10**13)])
def test_a_bad_adjustment_amount_is_refused_and_nothing_is_written(setup, amount):
    agent, manager, _, entry = setup
    dispute = disputes.open_dispute(agent, entry.id, "Too low.")
    before = _counts()
    with pytest.raises(ServiceError) as error:
        disputes.accept(manager, dispute, amount)
    assert (error.value.status, error.value.field) == (422, "amount")
    assert _counts() == before and dispute.is_open


def test_an_adjustment_cannot_go_into_a_closed_period(setup, today):
    agent, manager, _, entry = setup
    dispute = disputes.open_dispute(agent, entry.id, "Too low.")
    today(date(2026, 12, 2))
    close_period(None, period_for(date(2026, 11, 20)))
    today(TODAY)  # the clock went back: today's period is now a closed one
    before = _counts()
    with pytest.raises(ServiceError) as error:
        disputes.accept(manager, dispute, 500)
    assert error.value.status == 409
    assert _counts() == before


# --- rejecting, resolving twice, who may resolve --------------------------------------------------

def test_rejecting_needs_a_reason_and_leaves_the_ledger_alone(setup):
    agent, manager, _, entry = setup
    dispute = disputes.open_dispute(agent, entry.id, "Too low.")
    before = _counts()
    with pytest.raises(ServiceError) as error:
        disputes.reject(manager, dispute, "  ")
    assert (error.value.status, error.value.field) == (422, "reason")
    assert _counts() == before
    balance = ledger.agent_balance(agent.id)
    disputes.reject(manager, dispute, "3% is the plan's rate.")
    assert (dispute.status, dispute.resolution_note, dispute.adjustment_entry_id) == (
        "rejected", "3% is the plan's rate.", None)
    assert ledger.agent_balance(agent.id) == balance
    [email] = [e for e in _emails() if e.key == f"dispute-{dispute.id}-rejected"]
    assert email.to == agent.email and "3% is the plan's rate." in email.text


@pytest.mark.parametrize("first, second", [("accept", "reject"), ("reject", "accept"), ("accept", "accept")])
def test_resolving_twice_is_a_conflict(setup, first, second):
    agent, manager, _, entry = setup
    dispute = disputes.open_dispute(agent, entry.id, "Too low.")
    actions = {"accept": lambda: disputes.accept(manager, dispute, 1000),
               "reject": lambda: disputes.reject(manager, dispute, "No.")}
    actions[first]()
    before = _counts()
    with pytest.raises(ServiceError) as error:
        actions[second]()
    assert error.value.status == 409 and manager.name in error.value.message
    assert _counts() == before


def test_only_the_agents_manager_or_an_admin_resolves(setup, factory):
    agent, _, _, entry = setup
    dispute = disputes.open_dispute(agent, entry.id, "Too low.")
    stranger = factory.user(Role.MANAGER)
    with pytest.raises(NotFound):
        access.visible_dispute(stranger, dispute.id)
    with pytest.raises(NotFound):
        disputes.accept(stranger, dispute, 1000)
    with pytest.raises(NotFound):
        disputes.reject(stranger, dispute, "No.")
    with pytest.raises(NotFound):
        disputes.accept(agent, dispute, 1000)
    assert dispute.is_open
    admin = factory.user(Role.ADMIN)
    disputes.accept(admin, dispute, 1000)
    assert dispute.resolved_by_id == admin.id


# --- lists and the ledger changing under a dispute ------------------------------------------------

def test_lists_show_the_team_open_first_and_the_agent_only_their_own(setup, factory):
    agent, manager, _, entry = setup
    colleague = factory.user(Role.AGENT, manager=manager)
    factory.assign(colleague, factory.plan(base_rate="3"))
    colleague_entry = db.session.scalar(select(CommissionEntry).where(
        CommissionEntry.sale_id == factory.sale(colleague, "500.00", date(2026, 11, 19)).id))
    outsider = factory.user(Role.AGENT)
    factory.assign(outsider, factory.plan(base_rate="3"))
    outsider_entry = db.session.scalar(select(CommissionEntry).where(
        CommissionEntry.sale_id == factory.sale(outsider, "500.00", date(2026, 11, 19)).id))

    resolved = disputes.open_dispute(agent, entry.id, "First.")
    disputes.reject(manager, resolved, "No.")
    older_open = disputes.open_dispute(colleague, colleague_entry.id, "Second.")
    newer_open = disputes.open_dispute(agent, entry.id, "Third.")
    foreign = disputes.open_dispute(outsider, outsider_entry.id, "Elsewhere.")

    assert [r.dispute.id for r in disputes.team_disputes(manager, "all")] == [older_open.id, newer_open.id, resolved.id]
    assert [r.dispute.id for r in disputes.team_disputes(manager, "open")] == [older_open.id, newer_open.id]
    assert [r.dispute.id for r in disputes.team_disputes(manager, "rejected")] == [resolved.id]
    assert disputes.team_counts(manager) == {"open": 2, "accepted": 0, "rejected": 1, "answered": 0, "all": 3}
    assert foreign.id in {r.dispute.id for r in disputes.team_disputes(factory.user(Role.ADMIN), "all")}
    assert [r.dispute.id for r in disputes.agent_disputes(agent)] == [newer_open.id, resolved.id]
    assert [r.messages for r in disputes.agent_disputes(agent)] == [1, 1]


def test_a_disputed_line_the_ledger_deletes_leaves_the_dispute_in_place(setup):
    agent, manager, sale, entry = setup
    entry_id = entry.id
    dispute = disputes.open_dispute(agent, entry_id, "Too low.")
    void_sale(manager, sale, "Customer returned it.")  # the open-period line goes
    db.session.expire_all()
    assert db.session.get(CommissionEntry, entry_id) is None
    dispute = db.session.get(Dispute, dispute.id)
    assert (dispute.entry_id, dispute.sale_id, dispute.entry_amount_cents, dispute.status) == (None, sale.id, 3000, "open")
    disputes.reject(manager, dispute, "The sale was returned.")
    assert dispute.status == "rejected"


# --- delivery ------------------------------------------------------------------------------------

def test_each_event_is_delivered_to_the_right_person(setup, outbox):
    agent, manager, _, entry = setup
    dispute = disputes.open_dispute(agent, entry.id, "Wrong rate.")
    disputes.reply(manager, dispute, "Checking the plan.")
    disputes.reply(agent, dispute, "Thanks.")
    disputes.accept(manager, dispute, 1250, "Rate corrected.")
    db.session.commit()
    for email_id in pending_email_ids():
        deliver_email(email_id)
    sent = {m.metadata["email_key"]: (m.to, m.subject) for m in outbox.list()}
    answer, thanks = dispute.messages[1:]
    assert sent == {
        f"dispute-{dispute.id}-opened": (manager.email, f"{agent.name} disputed a commission line"),
        f"dispute-{dispute.id}-reply-{answer.id}": (agent.email, f"{manager.name} replied on your dispute #{dispute.id}"),
        f"dispute-{dispute.id}-reply-{thanks.id}": (manager.email, f"{agent.name} replied on dispute #{dispute.id}"),
        f"dispute-{dispute.id}-accepted": (agent.email, f"Your dispute #{dispute.id} was accepted"),
    }
    accepted = next(m for m in outbox.list() if m.metadata["email_key"] == f"dispute-{dispute.id}-accepted")
    assert "$12.50" in accepted.text and "Rate corrected." in accepted.text


# --- two managers resolve one dispute at once (PostgreSQL) ----------------------------------------

RACE_DAY = date(2032, 5, 12)  # far from other tests' dates: the race commits real rows


def _race_setup(factory, today) -> dict:
    """An agent with one approved sale and an open dispute on its line; committed."""
    today(RACE_DAY)
    manager, admin = factory.user(Role.MANAGER), factory.user(Role.ADMIN)
    agent = factory.user(Role.AGENT, manager=manager)
    factory.assign(agent, factory.plan(base_rate="3"))
    sale = factory.sale(agent, "1000.00", RACE_DAY - timedelta(days=2))
    entry = db.session.scalar(select(CommissionEntry).where(CommissionEntry.sale_id == sale.id))
    dispute = disputes.open_dispute(agent, entry.id, "Too low.")
    period_for(RACE_DAY)
    db.session.commit()
    return {"manager": manager.id, "admin": admin.id, "agent": agent.id, "dispute": dispute.id}


def _resolve_at_once(app, jobs) -> list[dict]:
    """Run (actor id, action) pairs on one dispute in parallel threads; the first to finish lingers."""
    import threading
    import time

    from webapp.auth.models import User

    start, lock, done = threading.Barrier(len(jobs)), threading.Lock(), []
    outcomes = [dict() for _ in jobs]

    def work(index, actor_id, dispute_id, action):
        """One manager's request: resolve, then commit (or roll back on a refusal)."""
        with own_session(app):
            actor, dispute = db.session.get(User, actor_id), db.session.get(Dispute, dispute_id)
            start.wait(WAIT)
            try:
                action(actor, dispute)
            except ServiceError as exc:
                outcomes[index]["error"] = exc
                db.session.rollback()
                return
            with lock:
                first = not done
                done.append(index)
            if first:
                time.sleep(0.3)  # hold the agent lock, uncommitted, while the other tries
            db.session.commit()
            outcomes[index]["ok"] = True

    in_threads(work, jobs, WAIT)
    return outcomes


@pytest.mark.parametrize("second", ["accept", "reject"])
def test_two_managers_resolving_at_once_resolve_it_once(app, factory, today, committed, second):
    ids = _race_setup(factory, today)
    actions = {"accept": lambda actor, d: disputes.accept(actor, d, 1000),
               "reject": lambda actor, d: disputes.reject(actor, d, "No.")}
    outcomes = _resolve_at_once(app, [(ids["manager"], ids["dispute"], actions["accept"]),
                                      (ids["admin"], ids["dispute"], actions[second])])
    assert sorted("ok" in o for o in outcomes) == [False, True], outcomes
    [refused] = [o["error"] for o in outcomes if "error" in o]
    assert refused.status == 409 and "already" in refused.message
    with committed.connect() as connection:
        status, adjustment = connection.execute(select(Dispute.status, Dispute.adjustment_entry_id)
                                                .where(Dispute.id == ids["dispute"])).one()
        manual = connection.execute(select(func.count()).select_from(CommissionEntry).where(
            CommissionEntry.agent_id == ids["agent"], CommissionEntry.kind == EntryKind.MANUAL)).scalar_one()
    assert manual == (1 if status == "accepted" else 0)
    assert (adjustment is not None) == (status == "accepted")
