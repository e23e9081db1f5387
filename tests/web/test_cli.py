"""Command line: `flask users create`, `flask demo seed` and `flask demo generate`."""

from __future__ import annotations

import contextvars
import hashlib
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from tests.conftest import Browser
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role, User
from webapp.commissions.ledger import recompute_agent_range
from webapp.commissions.models import CommissionEntry, CommissionPlan, EntryKind, PlanAssignment, Target
from webapp.commissions.plans import assignments_of, target_for
from webapp.demo import DEMO_PASSWORD, FLAT_PLAN
from webapp.extensions import db
from webapp.plandocs.models import PlanAcknowledgement, PlanDocument
from webapp.plandocs.services import awaiting_count
from webapp.sales.models import Sale, SaleStatus
from webapp.spiffs.models import Spiff
from webapp.statements.models import Statement


def _flask(app, args: list[str], **kwargs):
    """Run a `flask` command in its own app context and session, as the real CLI does."""

    # An empty context: no app context is pushed there, so the command pushes its own.
    return contextvars.Context().run(app.test_cli_runner().invoke, args=args, **kwargs)


def _user_count() -> int:
    """How many user rows exist."""
    return db.session.scalar(select(func.count(User.id)))


def _create(app, *args: str):
    """Run `flask users create` with these arguments."""
    return _flask(app, ["users", "create", *args])


def test_users_create_makes_an_admin_who_can_sign_in(app):
    result = _create(app, "--email", "Root@Example.com", "--name", "Root", "--role", "admin",
                     "--password", "a-long-admin-password")
    assert result.exit_code == 0, result.output
    assert "Created admin root@example.com" in result.output
    user = db.session.scalar(select(User).where(User.email == "root@example.com"))
    assert (user.role, user.name, user.active) == ("admin", "Root", True)
    # The system (no actor) made it, and the trail says so.
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.create",
                                                       AuditEvent.object_id == user.id))
    assert event is not None and event.actor_id is None
    response = Browser(app.test_client()).post(
        "/login", {"email": "root@example.com", "password": "a-long-admin-password"})
    assert response.status_code == 302


def test_users_create_puts_an_agent_on_a_managers_team(app, factory):
    manager = factory.user(Role.MANAGER)
    result = _create(app, "--email", "agent.cli@example.com", "--name", "Cli Agent", "--role", "agent",
                     "--manager-email", manager.email.upper(), "--password", "a-long-agent-password")
    assert result.exit_code == 0, result.output
    agent = db.session.scalar(select(User).where(User.email == "agent.cli@example.com"))
    assert agent.manager_id == manager.id


def test_users_create_prompts_for_the_password_twice(app):
    result = _flask(
        app, ["users", "create", "--email", "p@example.com", "--name", "Prompted", "--role", "manager"],
        input="a-long-prompted-pw\na-long-prompted-pw\n")
    assert result.exit_code == 0, result.output
    assert "a-long-prompted-pw" not in result.output
    assert db.session.scalar(select(User).where(User.email == "p@example.com")) is not None


def test_users_create_refuses_a_short_password_and_writes_nothing(app):
    before = _user_count()
    result = _create(app, "--email", "short@example.com", "--name", "Short", "--role", "admin",
                     "--password", "short")
    assert result.exit_code != 0
    assert "at least 10 characters" in result.output
    assert "Traceback" not in result.output
    assert _user_count() == before


def test_users_create_refuses_an_agent_without_a_manager(app):
    before = _user_count()
    result = _create(app, "--email", "lonely@example.com", "--name", "Lonely", "--role", "agent",
                     "--password", "a-long-agent-password")
    assert result.exit_code != 0
    assert "manager" in result.output.lower()
    assert _user_count() == before


def test_users_create_refuses_an_unknown_manager_email(app):
    before = _user_count()
    result = _create(app, "--email", "a@example.com", "--name", "A", "--role", "agent",
                     "--manager-email", "ghost@example.com", "--password", "a-long-agent-password")
    assert result.exit_code != 0
    assert "ghost@example.com" in result.output
    assert _user_count() == before


def test_users_create_refuses_a_duplicate_email(app, factory):
    existing = factory.user(Role.ADMIN)
    before = _user_count()
    result = _create(app, "--email", existing.email.upper(), "--name", "Again", "--role", "admin",
                     "--password", "a-long-admin-password")
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert _user_count() == before


def test_demo_seed_is_idempotent_and_prints_the_logins(app):
    first = _flask(app, ["demo", "seed"])
    assert first.exit_code == 0, first.output
    after_first = _user_count()
    demo_users = db.session.scalars(select(User).where(User.email.like("%@demo.example"))).all()
    assert {u.role for u in demo_users} == {"admin", "manager", "agent"}
    for user in demo_users:
        assert user.email in first.output
    assert DEMO_PASSWORD in first.output
    assert all(u.manager is not None and u.manager.role == "manager" for u in demo_users if u.role == "agent")

    second = _flask(app, ["demo", "seed"])
    assert second.exit_code == 0, second.output
    assert _user_count() == after_first
    assert "already present" in second.output
    assert DEMO_PASSWORD in second.output


def test_the_demo_shows_split_credit_an_attainment_plan_and_an_active_spiff(app, today):
    today(date(2026, 11, 20))
    assert _flask(app, ["demo", "seed"]).exit_code == 0
    split = db.session.scalar(select(Sale).where(Sale.idempotency_key == "demo-split-001"))
    assert split.status == SaleStatus.APPROVED
    assert [(c.agent.email, c.share_units, c.credit_cents) for c in split.credits] == [
        ("alice.agent@demo.example", 600_000, split.amount_cents * 6 // 10),
        ("bob.agent@demo.example", 400_000, split.amount_cents * 4 // 10)]
    # Both holders have their own commission line for it.
    holders = db.session.scalars(select(CommissionEntry.agent_id).where(
        CommissionEntry.sale_id == split.id, CommissionEntry.kind == EntryKind.SALE)).all()
    assert sorted(holders) == sorted(c.agent_id for c in split.credits)
    dev = db.session.scalar(select(User).where(User.email == "dev.agent@demo.example"))
    [assignment] = assignments_of(dev.id)
    assert assignment.plan.versions[-1].basis == "target_percent"
    assert target_for(dev.id, date(2026, 11, 1)) is not None
    spiff = db.session.scalar(select(Spiff).where(Spiff.name == "Year-end technology push"))
    [version] = spiff.versions
    assert version.first_day <= date(2026, 11, 20) <= version.last_day
    # Approved technology sales earned it (the demo's catalogue has two technology products).
    assert db.session.scalar(select(func.count()).select_from(CommissionEntry).where(
        CommissionEntry.spiff_id == spiff.id, CommissionEntry.amount_cents > 0)) > 0


def test_the_demo_issues_plan_documents_and_some_agents_have_acknowledged(app, today):
    today(date(2026, 11, 20))
    assert _flask(app, ["demo", "seed"]).exit_code == 0
    agents = db.session.scalars(select(User).where(User.email.like("%.agent@demo.example"))).all()
    documents = db.session.scalars(select(PlanDocument).where(PlanDocument.agent_id.in_([a.id for a in agents]))).all()
    # One document per agent (each on one plan, one version), its hash that of its stored HTML.
    assert sorted(d.agent_id for d in documents) == sorted(a.id for a in agents)
    assert all(d.sha256 == hashlib.sha256(d.body_html.encode("utf-8")).hexdigest() for d in documents)
    acknowledged = {a.agent.email: a for a in db.session.scalars(select(PlanAcknowledgement))}
    assert sorted(acknowledged) == ["bob.agent@demo.example", "dev.agent@demo.example"]
    for acknowledgement in acknowledged.values():
        document = acknowledgement.document
        assert (acknowledgement.document_number, acknowledgement.document_sha256, acknowledgement.typed_name) == (
            document.number, document.sha256, acknowledgement.agent.name)
    alice = next(a for a in agents if a.email == "alice.agent@demo.example")
    assert awaiting_count(alice.id) == 1  # her banner shows
    # The period statement the demo issued names each line's document.
    statement = db.session.scalar(select(Statement).where(Statement.agent_id == alice.id))
    assert statement.snapshot["lines"] and {line["plan_document"] for line in statement.snapshot["lines"]} == {
        next(d.number for d in documents if d.agent_id == alice.id)}

    # Seeding again issues and acknowledges nothing more.
    assert _flask(app, ["demo", "seed"]).exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(PlanDocument)) == len(documents)
    assert db.session.scalar(select(func.count()).select_from(PlanAcknowledgement)) == 2


def test_demo_logins_work(app):
    _flask(app, ["demo", "seed"])
    response = Browser(app.test_client()).post(
        "/login", {"email": "admin@demo.example", "password": DEMO_PASSWORD})
    assert response.status_code == 302


def test_demo_seed_refuses_to_run_in_production(app, monkeypatch):
    monkeypatch.setitem(app.config, "PRODUCTION", True)
    before = _user_count()
    result = _flask(app, ["demo", "seed"])
    assert result.exit_code != 0
    assert _user_count() == before


def _generated_sales() -> list[Sale]:
    """Every sale `flask demo generate` made."""
    return list(db.session.scalars(select(Sale).where(Sale.idempotency_key.like("gen-%"))))


def test_demo_generate_makes_teams_sales_and_the_ledger_the_product_would(app, today):
    today(date(2026, 11, 20))
    result = _flask(app, ["demo", "generate", "--agents", "30", "--sales", "900", "--months", "2"])
    assert result.exit_code == 0, result.output
    assert "900 sales" in result.output

    generated = db.session.scalars(select(User).where(User.email.like("%@generated.example"))).all()
    agents = [u for u in generated if u.role == Role.AGENT.value]
    managers = [u for u in generated if u.role == Role.MANAGER.value]
    assert (len(agents), len(managers)) == (30, 2)  # teams of 25
    assert [u.email for u in generated if u.role == Role.ADMIN.value] == ["admin@generated.example"]
    assert all(a.manager in managers for a in agents)
    assert len({a.manager_id for a in agents}) == 2

    sales = _generated_sales()
    assert len(sales) == 900
    assert {s.agent_id for s in sales} == {a.id for a in agents}
    assert min(s.sold_on for s in sales) >= date(2026, 9, 1)
    assert max(s.sold_on for s in sales) <= date(2026, 11, 20)
    assert all(s.amount_cents == s.quantity * s.unit_price_cents for s in sales)
    assert {s.status for s in sales} >= {"approved", "pending"}
    assert all(s.status == "pending" for s in sales if s.decided_at is None)

    # A monthly target per agent, near what they sell (so the bars read around 100%).
    targets = db.session.scalars(select(Target).where(Target.agent_id.in_([a.id for a in agents]))).all()
    assert {(t.agent_id, t.month) for t in targets} == {
        (a.id, month) for a in agents for month in (date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1))}
    assert 0.5 < sum(s.amount_cents for s in sales) / sum(t.amount_cents for t in targets) < 2

    # Every approved sale has its one commission line; nothing else earns.
    lines = db.session.execute(select(CommissionEntry.sale_id, CommissionEntry.amount_cents, CommissionEntry.kind)
                               .join(Sale, CommissionEntry.sale_id == Sale.id)
                               .where(Sale.idempotency_key.like("gen-%"))).all()
    approved = {s.id for s in sales if s.status == "approved"}
    assert sorted(sale_id for sale_id, _, _ in lines) == sorted(approved)
    assert {kind for _, _, kind in lines} == {"sale"}
    assert sum(amount for _, amount, _ in lines) > 0

    assert all(s.reason for s in sales if s.status in ("rejected", "voided"))
    now = datetime.now(timezone.utc)  # SQLite hands back naive UTC datetimes, PostgreSQL aware ones
    decided = [s.decided_at if s.decided_at.tzinfo else s.decided_at.replace(tzinfo=timezone.utc)
               for s in sales if s.decided_at]
    assert decided and max(decided) <= now

    # Worked out independently for the flat plan (3%, technology 4%): amount x rate, half-up to the cent.
    flat_agents = set(db.session.scalars(select(PlanAssignment.agent_id).join(CommissionPlan)
                                         .where(CommissionPlan.name == FLAT_PLAN)))
    line_of = {sale_id: amount for sale_id, amount, _ in lines}
    flat_sales = [s for s in sales if s.agent_id in flat_agents and s.status == "approved"]
    assert len(flat_sales) > 100
    for sale in flat_sales:
        rate = 4 if sale.product.category.code == "technology" else 3
        assert line_of[sale.id] == int((Decimal(sale.amount_cents * rate) / 100).quantize(Decimal(1), ROUND_HALF_UP))

    # The ledger is the one the product computes: recomputing changes nothing.
    before = {sale_id: amount for sale_id, amount, _ in lines}
    for agent in agents[:3]:
        recompute_agent_range(agent.id, date(2026, 9, 1), None)
    db.session.flush()
    after = dict(db.session.execute(select(CommissionEntry.sale_id, CommissionEntry.amount_cents)
                                    .where(CommissionEntry.agent_id.in_([a.id for a in agents[:3]]))).all())
    assert after == {sale_id: amount for sale_id, amount in before.items() if sale_id in after}
    assert len(after) == len([s for s in sales if s.agent_id in {a.id for a in agents[:3]} and s.id in approved])


def test_generated_logins_work(app, today):
    today(date(2026, 11, 20))
    assert _flask(app, ["demo", "generate", "--agents", "2", "--sales", "20"]).exit_code == 0
    browser = Browser(app.test_client())
    response = browser.post("/login", {"email": "agent0001@generated.example", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert browser.get("/dashboard").status_code == 200


def test_demo_generate_refuses_a_second_run_and_production(app, monkeypatch, today):
    today(date(2026, 11, 20))
    assert _flask(app, ["demo", "generate", "--agents", "2", "--sales", "10"]).exit_code == 0
    before = (_user_count(), len(_generated_sales()))
    again = _flask(app, ["demo", "generate", "--agents", "2", "--sales", "10"])
    assert again.exit_code != 0
    assert "already in this database" in again.output
    monkeypatch.setitem(app.config, "PRODUCTION", True)
    refused = _flask(app, ["demo", "generate", "--agents", "2", "--sales", "10"])
    assert refused.exit_code != 0
    assert "not production" in refused.output
    assert (_user_count(), len(_generated_sales())) == before


def test_demo_generate_refuses_a_database_with_sales_of_its_own(app, factory):
    agent = factory.user("agent")
    factory.sale(agent, "100.00", date(2026, 11, 2))
    before = _user_count()
    result = _flask(app, ["demo", "generate", "--agents", "2", "--sales", "10"])
    assert result.exit_code != 0
    assert "already has sales" in result.output
    assert _user_count() == before


def test_demo_generate_refuses_nonsense_counts(app):
    before = _user_count()
    for args in (["--agents", "0"], ["--sales", "-1"], ["--months", "0"]):
        result = _flask(app, ["demo", "generate", *args])
        assert result.exit_code == 2, (args, result.output)
    assert _user_count() == before
