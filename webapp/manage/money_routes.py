"""Money actions of managers (under /manage): void a sale, manual adjustments, payouts, reversals.

Each is a plain form POST answered by a redirect (so it works without JavaScript); bad input
re-renders the page the form was on with the message beside the field (422), a conflict such
as voiding twice with a message at the top (409). Nothing is written unless everything holds.
"""

from __future__ import annotations

from flask import current_app, flash, render_template, request, url_for
from flask_login import current_user

from webapp.auth.access import visible_agent, visible_payout, visible_sale
from webapp.auth.decorators import manager_required
from webapp.commissions import period_payments
from webapp.commissions import payouts as payout_service
from webapp.commissions.adjustments import add_manual_adjustment
from webapp.commissions.periods import closed_periods
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.formtools import parse_iso_date
from webapp.manage import bp
from webapp.manage import team as team_service
from webapp.manage.agent_page import render_agent_page
from webapp.manage.money_forms import AdjustmentForm, PayoutForm
from webapp.money import format_money
from webapp.operations import services as operations
from webapp.operations.routes import follow
from webapp.sales import services as sales
from webapp.sales.sale_page import render_sale_page
from webapp.web import FLASH, REVIEW_CHANGED, check, finish, run_service, submit


def _money(cents: int) -> str:
    """An amount as the pages print it."""
    return format_money(cents, current_app.config["CURRENCY"])


def _done(location: str, message: str):
    """After the commit: flash, redirect; htmx listeners hear that figures changed."""
    return finish(location, message, trigger=REVIEW_CHANGED)


def _reason_error(exc: ServiceError, reason: str) -> dict | None:
    """A refusal about the reason, to show beside the reason typed; any other is flashed (None)."""
    if exc.field == "reason":
        return {"message": exc.message, "reason": reason}
    flash(exc.message, "error")
    return None


# ---- Void ------------------------------------------------------------------------------------


@bp.route("/sales/<int:sale_id>/void", methods=["POST"])
@manager_required
def void_sale(sale_id: int):
    """Void an approved sale of the team with a reason (clawback if its period is closed)."""
    sale = visible_sale(current_user, sale_id)
    back = "agent" if request.form.get("back") == "agent" else "sale"
    reason = request.form.get("reason", "")
    outcome = run_service(lambda: sales.void_sale(current_user, sale, reason), unplaced=None)
    if not outcome.ok:
        return _void_failed(sale, back, reason, outcome.error)
    location = (url_for("review.agent_detail", agent_id=sale.agent_id) + f"#sale-{sale.id}" if back == "agent"
                else url_for("sales.detail", sale_id=sale.id))
    return _done(location, f"Sale #{sale.id} voided; {sale.agent.name} has been emailed the reason.")


def _void_failed(sale, back: str, reason: str, exc: ServiceError):
    """Show the page the void form was on again: the message beside the reason, or on top (409)."""
    db.session.refresh(sale)
    error = _reason_error(exc, reason)
    if back == "agent":
        return render_agent_page(sale.agent, void_errors={sale.id: error} if error else None, status=exc.status)
    return render_sale_page(sale, void_error=error, status=exc.status)


# ---- Manual adjustments ----------------------------------------------------------------------


def _agent_form(agent_id: int, form_class, save, *, form_name: str, anchor: str, message):
    """Post a money form of the agent page: `save(agent, form)` recorded, back to its section
    (`anchor`) with `message(result, agent)`; refused, the page again with the form (the page's
    `form_name`) as posted, its errors beside the fields (422)."""
    agent = visible_agent(current_user, agent_id)
    form = form_class(request.form)
    outcome = submit(form, lambda: save(agent, form))
    if outcome.ok:
        return _done(url_for("review.agent_detail", agent_id=agent.id) + anchor, message(outcome.value, agent))
    return render_agent_page(agent, **{form_name: form}, status=outcome.status)


@bp.route("/agents/<int:agent_id>/adjustments", methods=["POST"])
@manager_required
def add_adjustment(agent_id: int):
    """Post a manual adjustment (signed amount, reason) to an agent's ledger in today's period."""
    return _agent_form(agent_id, AdjustmentForm, lambda agent, form: add_manual_adjustment(
        current_user, agent.id, form.amount_cents, form.reason.data), form_name="adjustment_form", anchor="#ledger",
        message=lambda entry, agent: f"Adjustment of {_money(entry.amount_cents)} posted for {agent.name}.")


# ---- Payouts ---------------------------------------------------------------------------------


@bp.route("/agents/<int:agent_id>/payouts", methods=["POST"])
@manager_required
def record_payout(agent_id: int):
    """Record a payout for one agent (capped at the unpaid balance unless marked as an advance)."""
    return _agent_form(agent_id, PayoutForm, lambda agent, form: payout_service.record_payout(
        current_user, agent_id=agent.id, amount_cents=form.amount_cents, paid_on=parse_iso_date(form.paid_on.data),
        reference=form.reference.data, advance=form.advance.data), form_name="payout_form", anchor="#payouts",
        message=lambda payout, agent: f"Payout of {_money(payout.amount_cents)} to {agent.name} recorded.")


@bp.route("/payouts/<int:payout_id>/reverse", methods=["POST"])
@manager_required
def reverse_payout(payout_id: int):
    """Reverse a payout with a counter-entry (never a deletion); reversing twice is a 409."""
    payout = visible_payout(current_user, payout_id)
    agent = visible_agent(current_user, payout.agent_id)
    back = "payouts" if request.form.get("back") == "payouts" else "agent"
    reason = request.form.get("reason", "")
    outcome = run_service(lambda: payout_service.reverse_payout(current_user, payout, reason=reason), unplaced=None)
    if not outcome.ok:
        error = _reason_error(outcome.error, reason)
        errors = {payout.id: error} if error else None
        if back == "payouts":
            return _payouts_page(reverse_errors=errors), outcome.status
        return render_agent_page(agent, reverse_errors=errors, status=outcome.status)
    location = (url_for("review.payouts") if back == "payouts"
                else url_for("review.agent_detail", agent_id=agent.id) + "#payouts")
    return _done(location, f"Payout #{payout.id} of {_money(payout.amount_cents)} reversed.")


def _payouts_page(reverse_errors: dict | None = None) -> str:
    """The team's recent payouts."""
    rows = payout_service.team_payouts(current_user)
    return render_template("review/payouts.html", rows=rows,
                           reversed=payout_service.reversed_ids([p.id for p, _ in rows]),
                           reverse_errors=reverse_errors or {}, closed=closed_periods(1))


@bp.route("/payouts")
@manager_required
def payouts():
    """The team's recent payouts and reversals, with the "pay all statements" action."""
    return _payouts_page()


# ---- Pay all statements of a period ------------------------------------------------------------


def _closed_period(value: str | None):
    """The closed period the form names (default: the latest closed one), or an error message."""
    closed = closed_periods()
    if not (value or "").strip():
        return (closed[0], None) if closed else (None, None)
    named = check(lambda: team_service.resolve_period(value), unplaced=None)
    if not named.ok:
        return None, named.error.message
    period = named.value
    if period.is_open:
        return None, f"{period.label} is still open; its statements are paid once it is closed."
    return period, None


def _pay_period_page(period, period_error: str | None = None, status: int = 200):
    """The confirmation page: who gets what for the chosen closed period."""
    plan = period_payments.period_payment_plan(current_user, period) if period is not None else []
    return render_template(
        "review/pay_period.html", period=period, periods=closed_periods(), plan=plan,
        to_pay=[p for p in plan if p.amount > 0], total=sum(p.amount for p in plan),
        digest=period_payments.plan_digest(period, plan) if period is not None else "",
        period_error=period_error), status


@bp.route("/payouts/pay-period")
@manager_required
def pay_period_confirm():
    """Show what paying every statement of a closed period would pay each agent, to confirm."""
    period, error = _closed_period(request.args.get("period"))
    return _pay_period_page(period, error, 422 if error else 200)


@bp.route("/payouts/pay-period", methods=["POST"])
@manager_required
def pay_period():
    """Pay every team agent their closing balance of a closed period (what the page showed)."""
    period, error = _closed_period(request.form.get("period"))
    if period is None:
        return _pay_period_page(None, error or "Choose a closed period.", 422)
    # Nothing to pay is no change: rolled back, and said plainly. A large team's payouts are made
    # by the operation this request started.
    outcome = run_service(lambda: period_payments.pay_period(current_user, period, request.form.get("digest")),
                          unplaced=FLASH, commit=lambda made: bool(made) or operations.started() is not None)
    if not outcome.ok:
        return _pay_period_page(period, status=outcome.status)
    paying = follow(f"Paying the statements of {period.label}:")
    if paying is not None:
        return paying
    made = outcome.value
    if not made:
        return finish(url_for("review.payouts"),
                      f"Every statement of {period.label} is already paid; nothing was recorded.", category="info")
    total = sum(p.amount_cents for p in made)
    return _done(url_for("review.payouts"),
                 f"Paid {len(made)} statement{'s' if len(made) != 1 else ''} of {period.label}: {_money(total)}.")
