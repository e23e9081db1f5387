"""The matrix world: two teams, each with agents and their sales, ledger lines, disputes, payouts,
statements and API tokens; ids of the OTHER team's objects fill the URLs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from tests.conftest import Browser
from tests.support.world import TODAY, Builder
from tests.web._streaming import StreamingClient, streaming_browser
from webapp.api.models import ApiToken
from webapp.auth.tokens import create_token
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role, User
from webapp.catalog.models import Category, Customer, Product, ProductAssignment
from webapp.commissions.models import (CommissionEntry, CommissionPlan, Payout, Period, PlanAssignment,
                                       PlanVersion, Settings, Target)
from webapp.commissions.payouts import record_payout
from webapp.disputes.models import Dispute, DisputeMessage
from webapp.disputes.services import open_dispute
from webapp.extensions import db
from webapp.mail.models import OutgoingEmail
from webapp.operations import services as operations
from webapp.operations.models import BackgroundOperation
from webapp.sales.models import Sale
from webapp.statements.models import Statement, StatementRun
from webapp.spiffs.services import SpiffRules, create_spiff
from webapp.statements.services import start_adhoc_run
from webapp.plandocs.models import PlanAcknowledgement
from webapp.plandocs.services import issue_missing
from webapp.webhooks import services as webhooks
from webapp.webhooks.models import WebhookDelivery, WebhookEndpoint
from webapp.webhooks.services import create_endpoint

ROLES = ("anonymous", "agent", "manager", "admin")

# What a refused request must not change.
WATCHED = (User, Sale, CommissionEntry, Payout, Dispute, DisputeMessage, Statement, StatementRun, Product,
           Category, Customer, ProductAssignment, CommissionPlan, PlanVersion, PlanAssignment, Target,
           Settings, Period, ApiToken, AuditEvent, OutgoingEmail, BackgroundOperation, WebhookEndpoint,
           PlanAcknowledgement)


def row_counts() -> dict[str, int]:
    """Rows of every main table."""
    db.session.expire_all()
    return {m.__tablename__: db.session.scalar(select(func.count()).select_from(m)) for m in WATCHED}


class World:
    """Team A (the signed-in agent and manager) and team B (whose ids fill the URLs): the builder's
    standard two teams, plus every kind of object team B owns and a signed-in browser per role."""

    def __init__(self, app, factory, today):
        build = Builder(factory, today)
        teams = build.two_teams(product_name="Matrix monitor")
        self.app = app
        self.manager_a, self.agent_a, self.manager_b, self.agent_b, self.admin = (
            teams.manager_a, teams.agent_a, teams.manager_b, teams.agent_b, teams.admin)
        self.plan, self.product, self.customer = teams.plan, teams.product, teams.customer
        self.sale_b, self.pending_b = teams.sale_b, teams.pending_b
        self.assignment = factory.assign(factory.user(Role.AGENT, manager=self.manager_b), self.plan)
        self.category_code = db.session.get(Category, self.product.category_id).code
        self.entry_b = db.session.scalar(
            select(CommissionEntry).where(CommissionEntry.sale_id == self.sale_b.id))
        self.dispute_b = open_dispute(self.agent_b, self.entry_b.id, "The rate looks wrong")
        self.payout_b = record_payout(self.manager_b, agent_id=self.agent_b.id, amount_cents=1000,
                                      paid_on=TODAY, reference="Matrix transfer")
        self.run_b = start_adhoc_run(self.manager_b, agent_ids=[self.agent_b.id], start=date(2026, 11, 1),
                                     end=TODAY, message="Matrix")
        self.statement_b = self.run_b.statements[0]
        self.token_b, _ = create_token(self.agent_b, name="B's token")
        self.period = db.session.scalar(select(Period).order_by(Period.id))
        self.version = db.session.scalar(select(PlanVersion).where(PlanVersion.plan_id == self.plan.id))
        self.spiff = create_spiff(self.admin, "Matrix push", SpiffRules(
            first_day=date(2026, 11, 1), last_day=date(2026, 11, 30), per_unit=Decimal("1.00"),
            product_ids=[self.product.id])).spiff
        db.session.flush()
        # Team B's agent's plan document (URLs naming <document_id>).
        self.document_b = next(d for d in issue_missing() if d.agent_id == self.agent_b.id)
        # Team B's manager's background operation (URLs naming <operation_id>).
        self.operation_b = operations.start(self.manager_b, "bulk_decision", [self.pending_b.id], action="approve")
        # A webhook endpoint with a delivery (URLs naming <endpoint_id>, <webhook_id>, <delivery_id>).
        self.webhook = create_endpoint(self.admin, url="https://matrix.example.com/hooks", event_types=["sale.created"])
        webhooks.collect()
        self.delivery = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == self.webhook.id))
        self.users = {"agent": self.agent_a, "manager": self.manager_a, "admin": self.admin}
        # Clients that also read streamed downloads (a CSV export) in their request's own context.
        self.browsers = {role: streaming_browser(app, user) for role, user in self.users.items()}
        self.browsers["anonymous"] = Browser(StreamingClient(app, app.response_class, use_cookies=True))
        self.bearer = {
            role: {"Authorization": f"Bearer {create_token(user, name='matrix', scope='write')[1]}"}
            for role, user in self.users.items()}
        self.bearer["anonymous"] = {}
        self._csrf = {}

    def ids(self) -> dict[str, object]:
        """A value for every URL argument the app's rules use."""
        return {
            "sale_id": self.sale_b.id, "entry_id": self.entry_b.id, "dispute_id": self.dispute_b.id,
            "payout_id": self.payout_b.id, "statement_id": self.statement_b.id, "run_id": self.run_b.id,
            "agent_id": self.agent_b.id, "user_id": self.agent_b.id, "token_id": self.token_b.id,
            "customer_id": self.customer.id, "product_id": self.product.id,
            "category_id": self.product.category_id, "plan_id": self.plan.id, "version_id": self.version.id,
            "assignment_id": self.assignment.id, "period_id": self.period.id, "spiff_id": self.spiff.id,
            "recompute_id": 2_000_000,  # no such recalculation: 404 for the admin
            "message_id": "no-such-message", "filename": "no-such-file.pdf", "upload_id": "no-such-upload",
            "token": "not-a-reset-token", "document_id": self.document_b.id,
            "operation_id": self.operation_b.id,
            "endpoint_id": self.webhook.id, "webhook_id": self.webhook.id, "delivery_id": self.delivery.id,
        }

    def csrf(self, role: str) -> str:
        """A valid CSRF token of the role's session (read once from a page)."""
        if role not in self._csrf:
            self._csrf[role] = self.browsers[role].token("/login")
        return self._csrf[role]

