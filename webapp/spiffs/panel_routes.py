"""The agent's SPIFF panel on the dashboard, alone (htmx refreshes it); attached to the portal's
blueprint, as the agent's dispute pages are."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from webapp import clock
from webapp.auth.decorators import agent_required
from webapp.sales import bp
from webapp.spiffs.services import dashboard_spiffs


@bp.route("/dashboard/spiffs")
@agent_required
def spiffs_panel():
    """The SPIFFs the agent can earn today and the month's earnings against each cap."""
    return render_template("sales/partials/_spiffs_panel.html",
                           spiffs=dashboard_spiffs(current_user, clock.today()))
