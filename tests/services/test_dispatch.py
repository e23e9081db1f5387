"""The statement dispatcher: due periods in the installation's time zone, lazily created periods,
missed ticks caught up, never a second run, pending work re-queued from the database (time travel:
clock.now_utc and clock.today are frozen at chosen instants)."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from rq import Queue
from sqlalchemy import func, select

from tests.support.rows import count
from webapp import clock
from webapp.commissions.models import Period
from webapp.commissions.periods import close_period, get_settings, period_for
from webapp.extensions import db, redis_client
from webapp.mail.models import OutgoingEmail
from webapp.statements import dispatch as dispatcher
from webapp.statements.dispatch import SENDING_STALE_AFTER, dispatch, due_periods, period_due_at
from webapp.statements.models import Statement, StatementRun
from webapp.statements.rendering import render_statement
from webapp.tasks import unique_job_id

LA = ZoneInfo("America/Los_Angeles")
UTC = timezone.utc


def d(day: int, month: int = 11, year: int = 2026) -> date:
    """A date in late 2026."""
    return date(year, month, day)


def la(day: int, hour: int = 0, minute: int = 0, month: int = 11) -> datetime:
    """An instant given as Los Angeles wall time in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=LA)


pytestmark = pytest.mark.usefixtures("empty_queues")  # jobs of earlier tests do not count


@pytest.fixture
def los_angeles(app, monkeypatch):
    """The installation runs on Los Angeles time, with the default 48 hours of grace."""
    monkeypatch.setitem(app.config, "TIMEZONE", "America/Los_Angeles")
    get_settings().grace_hours = 48
    db.session.flush()


@pytest.fixture
def team(build, factory, at, los_angeles):
    """Two agents on 3% with sales on Nov 3 and Nov 9 (first half of November, LA time)."""
    at(la(10, 12))
    manager, (alice, bob) = build.team(None, "Alice Chen", "Bob Martin")
    factory.sale(alice, "1000.00", d(3))
    factory.sale(bob, "400.00", d(9))
    return {"manager": manager, "alice": alice, "bob": bob}


def runs() -> list[tuple[date, date]]:
    """Every period run, as (start, end), oldest first."""
    return [tuple(row) for row in db.session.execute(
        select(StatementRun.start_date, StatementRun.end_date).where(StatementRun.kind == "period")
        .order_by(StatementRun.start_date))]


def queued(queue: str) -> list[tuple[str, tuple]]:
    """(function, arguments) of the jobs waiting in a queue."""
    return sorted((job.func_name, job.args) for job in Queue(queue, connection=redis_client()).get_jobs())


# --- when a period is due ---------------------------------------------------------------------


def test_a_period_is_due_grace_hours_after_its_last_local_midnight(team, at):
    # Nov 1-15 ends at Nov 16 00:00 in Los Angeles (08:00 UTC); with 48 h of grace it is due at
    # Nov 18 00:00 LA = Nov 18 08:00 UTC. In UTC reckoning it would wrongly be due 8 hours sooner.
    assert period_due_at(d(15), 48) == datetime(2026, 11, 18, 8, 0, tzinfo=UTC)

    at(datetime(2026, 11, 18, 0, 30, tzinfo=UTC))  # past the UTC-reckoned moment: not yet
    assert due_periods() == [] and dispatch().issued == []
    at(la(17, 23, 59))
    assert due_periods() == [] and dispatch().issued == []
    assert runs() == []

    at(la(18, 0, 0))
    assert [p.start_date for p in due_periods()] == [d(1)]
    assert dispatch().issued == [period_for(d(1)).label]
    assert runs() == [(d(1), d(15))]
    assert period_for(d(1)).status == "closed"


def test_grace_is_elapsed_hours_across_a_daylight_saving_change(app, factory, at, los_angeles):
    # Oct 16-31 ends at Nov 1 00:00 PDT (07:00 UTC); clocks go back that night, so 48 elapsed hours
    # later is Nov 2 23:00 PST (Nov 3 07:00 UTC), an hour before the wall clock shows midnight.
    at(la(20, 12, month=10))
    agent = factory.user("agent")
    factory.assign(agent, factory.plan(base_rate="3"))
    factory.sale(agent, "500.00", d(20, 10))
    assert period_due_at(d(31, 10), 48) == datetime(2026, 11, 3, 7, 0, tzinfo=UTC)

    at(datetime(2026, 11, 3, 6, 59, tzinfo=UTC))
    assert due_periods() == []
    at(datetime(2026, 11, 3, 7, 0, tzinfo=UTC))
    assert [p.start_date for p in due_periods()] == [d(16, 10)]


def test_a_grace_of_zero_makes_the_period_due_at_its_last_midnight(team, at):
    get_settings().grace_hours = 0
    at(la(15, 23, 59))
    assert dispatch().issued == []
    at(la(16, 0, 0))
    assert dispatch().issued == [period_for(d(1)).label]


# --- catching up, never twice -----------------------------------------------------------------


def test_missed_ticks_are_caught_up_oldest_first_and_never_repeated(team, at):
    at(la(17, 12))
    assert dispatch().issued == []
    # The scheduler was down from Nov 17 to Dec 17: two periods became due meanwhile (Dec 1-15
    # has ended too, but its grace time runs until Dec 18 00:00).
    at(la(17, 9, month=12))
    summary = dispatch()
    assert summary.issued == [period_for(d(1)).label, period_for(d(16)).label]
    assert runs() == [(d(1), d(15)), (d(16), d(30))]
    first, second = (db.session.scalar(select(StatementRun).where(StatementRun.start_date == start))
                     for start in (d(1), d(16)))
    assert max(s.number for s in first.statements) < min(s.number for s in second.statements)
    statements = count(Statement)

    for moment in (la(17, 9, 5, month=12), la(17, 9, 10, month=12), la(17, 23, 59, month=12)):
        at(moment)
        assert dispatch().issued == []
    assert runs() == [(d(1), d(15)), (d(16), d(30))]
    assert count(Statement) == statements
    # Nov 16-30 carries each agent's unpaid balance forward: one statement each, numbered after.
    assert {s.agent_id for s in second.statements} == {team["alice"].id, team["bob"].id}


def test_periods_nobody_created_are_made_and_issued_in_order(app, factory, at, los_angeles):
    at(la(3, 12, month=10))
    agent = factory.user("agent")
    factory.assign(agent, factory.plan(base_rate="3"))
    factory.sale(agent, "1000.00", d(3, 10))
    assert [p.start_date for p in db.session.scalars(select(Period))] == [d(1, 10)]

    at(la(17, 12, month=12))  # nothing happened since October: no period rows after Oct 1-15
    summary = dispatch()

    expected = [(d(1, 10), d(15, 10)), (d(16, 10), d(31, 10)), (d(1), d(15)), (d(16), d(30))]
    assert runs() == expected
    assert len(summary.issued) == 4
    periods = list(db.session.scalars(select(Period).order_by(Period.start_date)))
    # Dec 1-15 has ended (its row is made) but is inside its grace time until Dec 18 00:00 LA.
    assert [(p.start_date, p.end_date, p.status) for p in periods] == (
        [(s, e, "closed") for s, e in expected] + [(d(1, 12), d(15, 12), "open")])
    at(la(17, 23, 59, month=12))
    assert dispatch().issued == []
    at(la(18, 0, 0, month=12))
    assert dispatch().issued == [period_for(d(1, 12)).label]
    # The agent's 30.00 was never paid: every period states it.
    statements = db.session.scalars(select(Statement).order_by(Statement.number)).all()
    assert [s.snapshot["totals"]["closing"] for s in statements] == [3000] * 5


def test_a_period_closed_by_hand_without_statements_is_still_issued(team, at):
    at(la(16, 9))
    close_period(team["manager"], period_for(d(1)))  # a manager closes it early; no run
    assert dispatch().issued == []  # closed, but its grace time has not passed
    at(la(18, 0, 1))
    assert dispatch().issued == [period_for(d(1)).label]
    assert runs() == [(d(1), d(15))]


def test_nothing_to_do_without_any_activity(app, at, los_angeles):
    at(la(20, 12))
    summary = dispatch()
    assert summary.issued == [] and summary.failed == {}


def test_a_failing_run_keeps_the_earlier_ones_and_the_next_tick_finishes(team, at, monkeypatch):
    real = dispatcher.start_period_run

    def failing_for_the_second_half(actor, period):
        """The run of Nov 16-30 breaks after closing and issuing (say the database went away)."""
        run = real(actor, period)
        if period.start_date == d(16):
            raise RuntimeError("connection lost")
        return run

    monkeypatch.setattr(dispatcher, "start_period_run", failing_for_the_second_half)
    at(la(3, 12, month=12))  # Dec 1-15 is open; Nov 1-15 and Nov 16-30 are due
    summary = dispatch()
    assert summary.issued == [period_for(d(1)).label]
    assert summary.failed == {period_for(d(16)).label: "RuntimeError: connection lost"}
    assert runs() == [(d(1), d(15))]
    assert period_for(d(16)).status == "open", "the failed run's close was rolled back"
    numbers = sorted(db.session.scalars(select(Statement.number)))
    assert numbers == list(range(numbers[0], numbers[0] + 2)), "its statement numbers were not used up"

    monkeypatch.setattr(dispatcher, "start_period_run", real)
    at(la(3, 12, 5, month=12))
    assert dispatch().issued == [period_for(d(16)).label]
    assert runs() == [(d(1), d(15)), (d(16), d(30))]


# --- work found from the database ---------------------------------------------------------------


def test_renders_and_deliveries_are_queued_from_the_database_after_redis_lost_them(team, at):
    at(la(18, 9))
    summary = dispatch()
    statements = db.session.scalars(select(Statement).order_by(Statement.id)).all()
    renders = [("jobs.statements.render_statement", (s.id,)) for s in statements]
    assert queued("default") == renders
    assert queued("emails") == [], "statement emails wait for their PDF"
    assert summary.renders == 2 and summary.deliveries == 0
    assert dispatch().renders == 2
    assert queued("default") == renders, "a job still waiting in its queue is not queued again"

    Queue("default", connection=redis_client()).empty()  # Redis lost its queue
    at(la(18, 9, 5))
    assert dispatch().renders == 2
    assert queued("default") == renders

    for statement in statements:
        render_statement(statement.id)
    Queue("default", connection=redis_client()).empty()
    Queue("emails", connection=redis_client()).empty()  # the deliveries the renders queued are lost too
    summary = dispatch()
    email_ids = db.session.scalars(select(OutgoingEmail.id).where(
        OutgoingEmail.statement_id.in_([s.id for s in statements])).order_by(OutgoingEmail.id)).all()
    assert summary.renders == 0 and summary.deliveries == 2
    assert queued("emails") == [("jobs.mail.deliver_email", (email_id,)) for email_id in email_ids]
    assert queued("default") == []


def test_an_interrupted_send_is_requeued_only_once_it_cannot_still_be_running(team, at):
    at(la(18, 9))
    dispatch()
    statement = db.session.scalars(select(Statement).order_by(Statement.id)).first()
    render_statement(statement.id)
    email = db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.statement_id == statement.id))
    email.status, email.attempts, email.sending_since = "sending", 1, clock.now_utc()
    db.session.commit()
    Queue("emails", connection=redis_client()).empty()

    at(la(18, 9) + SENDING_STALE_AFTER - timedelta(seconds=1))
    assert dispatch().deliveries == 0, "another worker may still be sending it"
    at(la(18, 9) + SENDING_STALE_AFTER + timedelta(seconds=1))
    assert dispatch().deliveries == 1
    assert queued("emails") == [("jobs.mail.deliver_email", (email.id,))]


def test_redis_down_loses_nothing(team, at, app):
    from redis import Redis

    working = app.extensions["redis"]
    app.extensions["redis"] = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)  # nothing listens
    try:
        at(la(18, 9))
        summary = dispatch()
    finally:
        app.extensions["redis"].close()
        app.extensions["redis"] = working
    assert summary.issued == [period_for(d(1)).label], "the run is in the database"
    assert summary.renders == 0 and summary.enqueue_errors == 2
    assert queued("default") == []
    at(la(18, 9, 5))
    summary = dispatch()
    assert summary.renders == 2 and summary.issued == []
    assert len(queued("default")) == 2


def test_the_queued_jobs_carry_the_retry_policy_and_a_fixed_id(team, at):
    at(la(18, 9))
    dispatch()
    statement_id = db.session.scalars(select(Statement.id).order_by(Statement.id)).first()
    job = Queue("default", connection=redis_client()).fetch_job(
        unique_job_id("jobs.statements.render_statement", (statement_id,)))
    assert job is not None and job.func_name == "jobs.statements.render_statement"
    assert job.retries_left == 3 and job.retry_intervals == [30, 120, 600]


# --- two dispatchers at once (PostgreSQL) -------------------------------------------------------


def test_two_dispatchers_at_once_issue_each_period_once(app, factory, committed, at, monkeypatch):
    monkeypatch.setitem(app.config, "TIMEZONE", "America/Los_Angeles")
    at(la(3, 12, month=10))
    agents = [factory.user("agent") for _ in range(3)]
    plan = factory.plan(base_rate="3", name=f"Dispatch race {agents[0].id}")
    for agent in agents:
        factory.assign(agent, plan)
        factory.sale(agent, "1000.00", d(3, 10))
    assert get_settings().grace_hours == 48  # the migration's default
    agent_ids = [agent.id for agent in agents]
    db.session.commit()
    db.session.remove()

    # Each run lingers with its locks held, so the two dispatchers really overlap.
    real = dispatcher.start_period_run

    def slow_start(actor, period):
        """Start the run, then hold the transaction open a moment."""
        run = real(actor, period)
        time.sleep(0.2)
        return run

    monkeypatch.setattr(dispatcher, "start_period_run", slow_start)
    at(la(17, 12, month=12))  # Oct 1-15 .. Nov 16-30 are due; only Oct 1-15 has a row
    start, results, crashes = threading.Barrier(2), [None, None], []

    def tick(index):
        """One dispatcher, in its own app context, session and connection."""
        try:
            with app.app_context():
                start.wait(10)
                results[index] = dispatch()
                db.session.remove()
        except BaseException as exc:  # surfaced in the main thread
            crashes.append(exc)

    threads = [threading.Thread(target=tick, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive(), "a dispatcher is stuck"
    if crashes:
        raise crashes[0]

    assert all(result.failed == {} for result in results), [r.failed for r in results]
    with committed.connect() as connection:
        made = connection.execute(select(StatementRun.period_id, func.count())
                                  .group_by(StatementRun.period_id)).all()
        statements = connection.execute(select(Statement.agent_id, Statement.period_id, Statement.number)
                                        .where(Statement.agent_id.in_(agent_ids))).all()
        periods = connection.execute(select(Period.start_date).where(Period.start_date >= d(1, 10))
                                     .order_by(Period.start_date)).scalars().all()
    assert periods == [d(1, 10), d(16, 10), d(1), d(16), d(1, 12)], "each period row made once"
    assert len(made) == 4 and all(n == 1 for _, n in made), made
    assert len(statements) == 3 * 4, "one statement per agent and period"
    assert len({(agent, period) for agent, period, _ in statements}) == 12
    numbers = sorted(number for _, _, number in statements)
    assert numbers == list(range(numbers[0], numbers[0] + 12)), "numbers have no gaps"


# --- retries: transient failures back off, permanent ones stop -----------------------------------


class _FailingBackend:
    """A mail backend whose every send fails with `error`."""

    def __init__(self, error):
        """Remember the error to raise."""
        self.error = error

    def send(self, message):
        """Fail."""
        raise self.error


def _run_queue(name: str) -> None:
    """Run what waits in a queue with an in-process worker (the jobs reuse this test's app context)."""
    from rq import SimpleWorker

    from webapp.tasks import Queue as PolicyQueue

    worker = SimpleWorker([PolicyQueue(name, connection=redis_client())], connection=redis_client())
    worker.work(burst=True, with_scheduler=False)


def _rendered_email(team, at) -> OutgoingEmail:
    """Alice's statement email with its PDF rendered, its delivery job queued."""
    at(la(18, 9))
    dispatch()
    statement = db.session.scalar(select(Statement).where(Statement.agent_id == team["alice"].id))
    render_statement(statement.id)
    return db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.statement_id == statement.id))


def test_a_transient_delivery_failure_is_retried_after_30_seconds(team, at, app, monkeypatch):
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    from webapp.mail.messages import MailProviderError

    email = _rendered_email(team, at)
    monkeypatch.setitem(app.extensions, "mail_backend", _FailingBackend(MailProviderError(503, "busy")))
    _run_queue("emails")

    job = Job.fetch(unique_job_id("jobs.mail.deliver_email", (email.id,)), connection=redis_client())
    assert job.get_status() == "scheduled" and job.retries_left == 2
    registry = ScheduledJobRegistry("emails", connection=redis_client())
    wait = registry.get_scheduled_time(job.id) - datetime.now(UTC)
    assert timedelta(seconds=20) < wait <= timedelta(seconds=30)
    db.session.refresh(email)
    assert (email.status, email.attempts) == ("queued", 1) and "busy" in email.last_error
    registry.remove(job, delete_job=True)


def test_a_permanent_delivery_failure_is_not_retried(team, at, app, monkeypatch):
    from rq.job import Job

    from webapp.mail.messages import MailProviderError

    email = _rendered_email(team, at)
    error = MailProviderError(401, "Invalid API key", permanent=True)
    monkeypatch.setitem(app.extensions, "mail_backend", _FailingBackend(error))
    _run_queue("emails")

    job = Job.fetch(unique_job_id("jobs.mail.deliver_email", (email.id,)), connection=redis_client())
    assert job.get_status() == "finished", "nothing to retry"
    db.session.refresh(email)
    assert email.status == "failed" and "Invalid API key" in email.last_error
    assert dispatch().deliveries == 0, "the dispatcher leaves a failed email for a person to resend"


def test_a_failed_render_shows_its_error_and_its_retry_renders_it(team, at, monkeypatch):
    from rq.job import Job

    import webapp.statements.pdf as pdf

    at(la(18, 9))
    dispatch()
    Queue("emails", connection=redis_client()).empty()
    statement = db.session.scalar(select(Statement).where(Statement.agent_id == team["alice"].id))
    real = pdf.html_to_pdf

    def broken(html, **kwargs):
        """WeasyPrint runs out of memory on this one."""
        raise MemoryError("out of memory")

    monkeypatch.setattr(pdf, "html_to_pdf", broken)
    _run_queue("default")
    db.session.refresh(statement)
    assert statement.status == "failed" and statement.render_error == "MemoryError: out of memory"
    job_id = unique_job_id("jobs.statements.render_statement", (statement.id,))
    job = Job.fetch(job_id, connection=redis_client())
    assert job.get_status() == "scheduled" and job.retries_left == 2

    monkeypatch.setattr(pdf, "html_to_pdf", real)
    assert render_statement(statement.id) == "rendered"  # what the retry runs
    db.session.refresh(statement)
    assert statement.status == "rendered" and statement.render_error is None
    Queue("default", connection=redis_client()).scheduled_job_registry.remove(job, delete_job=True)
