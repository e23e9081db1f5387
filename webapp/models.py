"""Every model, imported in one place so Alembic and the app see the whole schema."""

from webapp.audit.models import AuditEvent  # noqa: F401
from webapp.auth.models import Role, User  # noqa: F401
from webapp.catalog.models import Category, Customer, Product, ProductAssignment  # noqa: F401
from webapp.mail.models import OutgoingEmail  # noqa: F401
from webapp.commissions.models import (  # noqa: F401
    CommissionEntry, CommissionPlan, Payout, Period, PlanAssignment, PlanOverride, PlanTier,
    PlanVersion, Settings, Target,
)
from webapp.sales.models import ImportUpload, Sale, SaleCredit, SaleStatus  # noqa: F401
from webapp.spiffs.models import Spiff, SpiffVersion  # noqa: F401
from webapp.statements.models import Statement, StatementRun  # noqa: F401
from webapp.disputes.models import Dispute, DisputeMessage  # noqa: F401
from webapp.api.models import ApiToken  # noqa: F401
from webapp.plandocs.models import PlanAcknowledgement, PlanDocument  # noqa: F401
from webapp.operations.models import BackgroundOperation  # noqa: F401
from webapp.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent  # noqa: F401
