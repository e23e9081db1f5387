"""Admin pages: each active agent's sales target for a month (htmx saves or removes one row at a time).

Setting, changing or removing a target recomputes that agent-month (webapp/commissions/targets.py):
under an attainment plan the target moves the brackets, so commission follows it."""

from __future__ import annotations

from datetime import date

from flask import abort, render_template, request, url_for
from flask_login import current_user

from webapp import clock
from webapp.admin import bp
from webapp.admin.catalog_forms import TargetForm, TargetImportForm
from webapp.auth import access
from webapp.auth import services as accounts
from webapp.auth.decorators import admin_required
from webapp.commissions import target_import
from webapp.commissions import targets as target_service
from webapp.formtools import parse_year_month
from webapp.money import from_cents, to_cents
from webapp.operations.routes import follow
from webapp.web import FLASH, finish, is_htmx, run_service, submit

def _target_rows(month: date, posted: tuple[int, TargetForm] | None = None) -> list[dict]:
    """One row per active agent: the agent, their target for `month`, and the form to change it."""
    agents = accounts.list_agents()
    stored = target_service.targets_of_month([agent.id for agent in agents], month)
    rows = []
    for agent in agents:
        target = stored.get(agent.id)
        if posted and posted[0] == agent.id:
            form = posted[1]
        else:
            form = TargetForm(formdata=None,
                              amount=str(from_cents(target.amount_cents)) if target else "")
        rows.append({"agent": agent, "target": target, "form": form})
    return rows


def _month_links(month: date) -> dict[str, str]:
    """YYYY-MM of the months before and after `month`, for the month switcher."""
    before = date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)
    after = date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)
    return {"previous": before.strftime("%Y-%m"), "next": after.strftime("%Y-%m")}


@bp.route("/targets")
@admin_required
def targets():
    """Active agents with their sales target for a month (?month=YYYY-MM, default this month)."""
    text = request.args.get("month", "").strip()
    month = parse_year_month(text) if text else clock.today().replace(day=1)
    if month is None:
        return render_template("admin/targets.html", month=None, month_text=text, rows=[],
                               month_error="Enter a month as YYYY-MM, for example 2026-05."), 422
    return _targets_page(month)


def _targets_page(month: date, import_form: TargetImportForm | None = None, import_rows=(), status: int = 200):
    """The targets page for `month`, with the import form (and its row problems, if refused)."""
    return render_template("admin/targets.html", month=month, month_text=month.strftime("%Y-%m"),
                           rows=_target_rows(month), links=_month_links(month),
                           import_form=import_form or TargetImportForm(formdata=None),
                           import_rows=import_rows), status


@bp.route("/targets/import", methods=["POST"])
@admin_required
def targets_import():
    """Import targets from a CSV file: every row checked first, all or nothing; many rows run as a
    background operation."""
    form = TargetImportForm()
    month = clock.today().replace(day=1)
    upload = form.file.data
    if not upload or not getattr(upload, "filename", ""):
        form.file.errors = ["Choose a CSV file."]
        return _targets_page(month, form, status=422)
    outcome = run_service(lambda: target_import.import_targets(current_user, upload.read()), form=form,
                          error_status=422)
    if not outcome.ok:
        return _targets_page(month, form, getattr(outcome.error, "rows", []), status=422)
    count = outcome.value if isinstance(outcome.value, int) else outcome.value.total
    return follow("The file is checked; its targets are being set:") or finish(
        url_for("admin.targets"), f"Imported {count:,} target{'s' if count != 1 else ''}.")


def _agent_and_month(agent_id: int):
    """The agent of the URL (404 for anyone else) and the month of ?month= (400 when missing or bad)."""
    agent = accounts.get_user(agent_id)
    if not access.is_agent(agent):
        abort(404)
    return agent, parse_year_month(request.args.get("month")) or abort(400)


@bp.route("/targets/<int:agent_id>", methods=["POST"])
@admin_required
def target_set(agent_id: int):
    """Set one agent's target for the month in ?month=; htmx gets the table row back."""
    agent, month = _agent_and_month(agent_id)
    form = TargetForm()
    saved = submit(form, lambda: target_service.set_target(current_user, agent_id=agent.id, month=month,
                                                           amount_cents=to_cents(form.amount.decimal))).ok
    if is_htmx():
        target = target_service.targets_of_month([agent.id], month).get(agent.id)
        if saved:  # show the amount as stored (25000 -> 25000.00), not as typed
            form = TargetForm(formdata=None, amount=str(from_cents(target.amount_cents)))
        row = {"agent": agent, "target": target, "form": form}
        return render_template("admin/partials/_target_row.html", row=row, month=month,
                               saved=saved), 200 if saved else 422
    if saved:
        return finish(url_for("admin.targets", month=month.strftime("%Y-%m")),
                      f"Target for {agent.name} in {month:%B %Y} saved.")
    return render_template("admin/targets.html", month=month, month_text=month.strftime("%Y-%m"),
                           rows=_target_rows(month, posted=(agent.id, form)), links=_month_links(month),
                           import_form=TargetImportForm(formdata=None), import_rows=()), 422


@bp.route("/targets/<int:agent_id>/remove", methods=["POST"])
@admin_required
def target_remove(agent_id: int):
    """Remove one agent's target for the month in ?month= ("no target"); htmx gets the row back."""
    agent, month = _agent_and_month(agent_id)
    # CSRFProtect has checked the token; there is nothing else to read from the request.
    outcome = run_service(lambda: target_service.remove_target(current_user, agent_id=agent.id, month=month),
                          unplaced=FLASH)
    if is_htmx():
        row = {"agent": agent, "target": None, "form": TargetForm(formdata=None, amount="")}
        return render_template("admin/partials/_target_row.html", row=row, month=month, removed=outcome.value)
    message = (f"Target for {agent.name} in {month:%B %Y} removed." if outcome.value
               else f"{agent.name} had no target for {month:%B %Y}.")
    return finish(url_for("admin.targets", month=month.strftime("%Y-%m")), message)
