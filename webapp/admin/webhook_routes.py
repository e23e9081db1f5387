"""Admin pages: webhook endpoints (register, change, turn off), each one's delivery log and "send again"."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_login import current_user

from webapp import clock
from webapp.admin import bp
from webapp.admin.webhook_forms import WebhookEditForm, WebhookForm
from webapp.auth.decorators import admin_required
from webapp.formtools import MAX_DB_ID
from webapp.web import finish, run_service, submit
from webapp.webhooks import services as webhooks
from webapp.webhooks.catalog import EVENT_TYPES
from webapp.webhooks.models import DeliveryStatus
from webapp.webhooks.sending import abandoned

LOG_PAGE = 50
STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED)


@bp.route("/webhooks", methods=["GET", "POST"])
@admin_required
def webhooks_page():
    """Every endpoint with its deliveries by status, and the form to register one."""
    form = WebhookForm()
    status = 200
    if request.method == "POST":
        outcome = submit(form, lambda: webhooks.create_endpoint(
            current_user, url=form.url.data, event_types=form.event_types.data, description=form.description.data))
        if outcome.ok:
            return finish(url_for("admin.webhook_detail", endpoint_id=outcome.value.id),
                          "Endpoint added. Set up its signing secret at the receiver (below).")
        status = outcome.status
    endpoints = webhooks.endpoints_page()
    return render_template("admin/webhooks.html", form=form, endpoints=endpoints, event_types=EVENT_TYPES,
                           counts=webhooks.delivery_counts([e.id for e in endpoints])), status


@bp.route("/webhooks/<int:endpoint_id>", methods=["GET", "POST"])
@admin_required
def webhook_detail(endpoint_id: int):
    """One endpoint: its secret, events (editable) and delivery log, newest first, by status."""
    endpoint = webhooks.get_endpoint(endpoint_id)
    # The stored types are one string: the form is filled from data, never from the object.
    form = WebhookEditForm(data={"event_types": endpoint.types, "description": endpoint.description})
    status = 200
    if request.method == "POST":
        outcome = submit(form, lambda: webhooks.update_endpoint(
            current_user, endpoint, event_types=form.event_types.data, description=form.description.data,
            clear_description=True))
        if outcome.ok:
            return finish(url_for("admin.webhook_detail", endpoint_id=endpoint.id), "Endpoint saved.")
        status = outcome.status
    shown = request.args.get("status") if request.args.get("status") in STATUSES else None
    before = request.args.get("before", type=int)
    if before is not None and not 0 < before <= MAX_DB_ID:
        before = None  # no such event: the first page
    found = webhooks.deliveries_page(endpoint, status=shown, before_event_id=before, limit=LOG_PAGE + 1)
    older = found[LOG_PAGE - 1].event_id if len(found) > LOG_PAGE else None
    now = clock.now_utc()
    return render_template("admin/webhook.html", endpoint=endpoint, form=form, deliveries=found[:LOG_PAGE],
                           resendable={d.id for d in found if d.status != DeliveryStatus.SENDING
                                       or abandoned(d, now)},
                           shown=shown, statuses=STATUSES, older=older, event_types=EVENT_TYPES,
                           counts=webhooks.delivery_counts([endpoint.id])[endpoint.id]), status


@bp.route("/webhooks/<int:endpoint_id>/active", methods=["POST"])
@admin_required
def webhook_active(endpoint_id: int):
    """Turn an endpoint off (it receives nothing, its log stays) or on again, as the button said
    (a second click or an old tab then changes nothing)."""
    endpoint = webhooks.get_endpoint(endpoint_id)
    turn_on = request.form.get("active") == "1"
    run_service(lambda: webhooks.update_endpoint(current_user, endpoint, active=turn_on))
    return finish(url_for("admin.webhook_detail", endpoint_id=endpoint.id),
                  "Endpoint turned on: it receives events again." if turn_on else
                  "Endpoint turned off: it receives nothing until you turn it on.")


@bp.route("/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/send-again", methods=["POST"])
@admin_required
def webhook_send_again(endpoint_id: int, delivery_id: int):
    """Send one delivery again now, with a fresh day of retries."""
    endpoint = webhooks.get_endpoint(endpoint_id)
    outcome = run_service(lambda: webhooks.send_again(current_user, webhooks.get_delivery(endpoint, delivery_id)),
                          unplaced="flash")
    back = url_for("admin.webhook_detail", endpoint_id=endpoint.id)
    if not outcome.ok:  # its reason is flashed
        return redirect(back)
    return finish(back, f"Event {outcome.value.event_id} is queued to be sent again.")
