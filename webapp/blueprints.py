"""Every blueprint of the app, in one explicit list, and the route modules that fill them.

Importing a route module attaches its views to its package's `bp` (package __init__ files only
create the blueprint, with its url_prefix). This is the one module that imports route modules;
create_app registers BLUEPRINTS in this order.

The dispute pages have no blueprint of their own: the agent's attach to sales.bp and the
manager's to manage.bp, under the endpoint names they have always had (sales.my_dispute,
review.dispute_detail, ...).
"""

from __future__ import annotations

from types import ModuleType

from flask import Blueprint

from webapp import admin, api, auth, mail, main, manage, operations, plandocs, sales, statements
from webapp.admin import (audit_routes, catalog_routes, outbox_routes, plan_routes, settings_routes,
                          target_routes, user_routes)
from webapp.admin import spiff_routes, webhook_routes as admin_webhook_routes
# The API's operations are listed in the OpenAPI document in the order these imports register them.
from webapp.api import account_routes, product_routes, sales_routes
from webapp.api import statement_routes as api_statement_routes
from webapp.api import commission_routes, docs_routes, token_routes
from webapp.api import spiff_routes as api_spiff_routes
from webapp.api import directory_routes, dispute_routes, ledger_routes, payout_routes, period_routes
from webapp.api import export_routes as api_export_routes
from webapp.api import catalog_routes as api_catalog_routes
from webapp.api import plan_routes as api_plan_routes
from webapp.api import target_routes as api_target_routes
from webapp.api import operation_routes as api_operation_routes
from webapp.api import plandoc_routes as api_plandoc_routes
from webapp.api import webhook_routes as api_webhook_routes
from webapp.api import admin_routes as api_admin_routes
from webapp.api import decision_routes as api_decision_routes
from webapp.api import audit_routes as api_audit_routes
from webapp.api import import_routes as api_import_routes
from webapp.auth import login_routes
from webapp.disputes import agent_routes, manage_routes
from webapp.mail import webhook_routes
from webapp.main import home_routes
from webapp.plandocs import agent_routes as plandoc_agent_routes
from webapp.plandocs import follow_routes as plandoc_follow_routes
from webapp.plandocs import question_routes as plandoc_question_routes
from webapp.operations import routes as operation_routes
from webapp.manage import (export_routes, import_routes, money_routes, periods_routes, queue_routes,
                           team_routes)
from webapp.sales import sale_routes
from webapp.spiffs import panel_routes
from webapp.statements import statement_routes

BLUEPRINTS: tuple[Blueprint, ...] = (
    main.bp,            # /, /healthz
    auth.bp,            # /login, /logout, /password/...
    admin.bp,           # /admin/...
    sales.bp,           # the agent portal, and the agent's dispute pages
    api.bp,             # /api/v1/... (JSON, bearer tokens)
    api.tokens_bp,      # /profile/tokens
    manage.bp,          # /manage/... (named "review"), and the manager's dispute pages
    statements.bp,      # /statements/...
    mail.bp,            # POST /webhooks/mailchimp (signed, CSRF-exempt)
    plandocs.bp,        # /plan-documents/..., /manage/plan-documents, /admin/plan-documents
    operations.bp,      # /operations/<id>: a background operation's progress
)

# Every route module, by blueprint.
ROUTE_MODULES: tuple[ModuleType, ...] = (
    home_routes,
    login_routes,
    user_routes, outbox_routes, catalog_routes, target_routes, settings_routes, plan_routes, audit_routes,
    spiff_routes, admin_webhook_routes,
    sale_routes, agent_routes, panel_routes,
    account_routes, product_routes, sales_routes, api_statement_routes, commission_routes, api_spiff_routes,
    api_plandoc_routes, payout_routes, directory_routes, ledger_routes, period_routes, dispute_routes,
    api_export_routes, api_catalog_routes, api_plan_routes, api_target_routes, api_operation_routes,
    api_webhook_routes, api_admin_routes, api_decision_routes, api_audit_routes, api_import_routes,
    docs_routes,
    token_routes,
    queue_routes, team_routes, money_routes, periods_routes, export_routes, import_routes, manage_routes,
    statement_routes,
    webhook_routes,
    plandoc_agent_routes, plandoc_follow_routes, plandoc_question_routes,
    operation_routes,
)
