"""Admin pages for commission plans: plans and versions, assignments, the plan simulator."""

from __future__ import annotations

from datetime import timedelta

from flask import render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from webapp import clock
from webapp.admin import bp
from webapp.admin.plan_forms import (MORE_ROWS, AssignmentForm, EndAssignmentForm, PlanCreateForm,
                                     SimulatorForm, VersionCreateForm, VersionEditForm, rules_data)
from webapp.auth.decorators import admin_required
from webapp.catalog import services as catalogue
from webapp.commissions import assignments, attainment, plan_versions
from webapp.commissions import plans as plan_service
from webapp.commissions import simulator
from webapp.formtools import db_id_or_none, parse_year_month
from webapp.operations.routes import follow
from webapp.web import finish, form_page, is_htmx, submit

# The simulator's CSV arrives URL-encoded (commas and line breaks triple in size), and Flask's
# default form limit (500 kB) would refuse a paste the simulator accepts (1 MB) with a bare 413.
SIMULATOR_FORM_BYTES = 4 * simulator.MAX_BYTES


@bp.url_value_preprocessor
def _raise_form_limit_for_the_simulator(endpoint, values):
    """Let the simulator read a large paste itself (CSRF parses the form before any view runs)."""
    if endpoint == "admin.plan_simulator":
        request.max_form_memory_size = SIMULATOR_FORM_BYTES


@bp.context_processor
def _plan_template_helpers():
    """Helpers the plan templates use."""
    return {"version_dates": _version_dates}


def _version_dates(version, next_version) -> str:
    """When a version is in force: from its date to the day before the next version's."""
    if next_version is None:
        return f"from {version.effective_from.isoformat()}"
    last_day = next_version.effective_from - timedelta(days=1)
    return f"{version.effective_from.isoformat()} to {last_day.isoformat()}"


def _prefill(data: dict) -> dict | None:
    """Initial values for a GET only: a posted form must stand on what was posted."""
    return data if request.method == "GET" else None


def _rules_form(form_class, **kwargs):
    """A rules form with the catalogue in its override selects."""
    form = form_class(**kwargs)
    form.set_catalogue(catalogue.list_categories(), catalogue.list_products())
    return form


def _wants_more_rows(form) -> bool:
    """True when the form was posted with "More rows" (show it again, longer; nothing saved)."""
    if form.more_rows.data:
        form.add_blank_rows(extra=MORE_ROWS)
        return True
    return False


def _rules_page(form, save, *, template: str, done, **context):
    """A plan's rules form: GET, "More rows" and a refused save (the service's status) show it
    again with its blank rows; a save returns `done(result)` once committed."""
    status = 200
    if request.method == "POST" and not _wants_more_rows(form):
        outcome = submit(form, save, error_status=None)
        if outcome.ok:
            return done(outcome.value)
        status = outcome.status
    form.add_blank_rows()
    return render_template(template, form=form, **context), status


@bp.route("/plans")
@admin_required
def plans():
    """Every plan with its versions, and which versions have earned commission."""
    all_plans = plan_service.list_plans()
    used = plan_service.used_version_ids([v for p in all_plans for v in p.versions])
    return render_template("admin/plans/list.html", plans=all_plans, used=used)


@bp.route("/plans/new", methods=["GET", "POST"])
@admin_required
def plan_new():
    """Create a plan with its first version."""
    form = _rules_form(PlanCreateForm, data=_prefill({"effective_from": clock.today().isoformat()}))
    return _rules_page(form, lambda: plan_service.create_plan(
        current_user, name=form.name.data, description=form.description.data, rules=form.rules(),
        effective_from=form.effective_from.date, terms=form.terms.data), template="admin/plans/plan_form.html",
        done=lambda plan: finish(url_for("admin.plan_detail", plan_id=plan.id), f"Created the plan {plan.name}."))


def _bracket_amounts(plan) -> tuple[dict, int]:
    """The amounts panel of a plan with percent brackets: the agents to choose from, the month, and
    once an agent is chosen the brackets as amounts of that agent's target (?agent_id=&month=YYYY-MM)."""
    if not attainment.has_attainment_versions(plan):
        return {"amounts_panel": False}, 200
    month_text = request.args.get("month", "").strip()
    month = parse_year_month(month_text) if month_text else clock.today().replace(day=1)
    agent_id = db_id_or_none(request.args.get("agent_id", ""))
    context = {"amounts_panel": True, "agents": attainment.amount_agents(current_user), "agent_id": agent_id,
               "month_text": month.strftime("%Y-%m") if month else month_text, "month_error": None,
               "amounts": None}
    if month is None:
        context["month_error"] = "Enter a month as YYYY-MM, for example 2026-11."
        return context, 422
    if agent_id is not None:
        # An agent the viewer may not see is a 404, as everywhere (the select offers only visible ones).
        context["amounts"] = attainment.plan_amounts(current_user, plan, agent_id, month)
    return context, 200


@bp.route("/plans/<int:plan_id>")
@admin_required
def plan_detail(plan_id: int):
    """A plan's versions, what each pays, and which may still be edited; for percent brackets, their
    amounts for a chosen agent's target of a chosen month (htmx asks for that panel alone)."""
    plan = plan_service.get_plan(plan_id)
    amounts, status = _bracket_amounts(plan)
    if is_htmx("bracket-amounts"):
        return render_template("admin/plans/_bracket_amounts.html", plan=plan, **amounts), status
    in_force = plan_service.version_in_force(plan.id, clock.today())
    return render_template("admin/plans/detail.html", plan=plan, in_force=in_force,
                           used=plan_service.used_version_ids(plan.versions), **amounts), status


@bp.route("/plans/<int:plan_id>/versions/new", methods=["GET", "POST"])
@admin_required
def version_new(plan_id: int):
    """Add a version of the plan effective from a date, prefilled with the current rules and terms."""
    plan = plan_service.get_plan(plan_id)
    current = plan_service.current_version(plan)
    prefill = {**rules_data(plan_service.rules_of(current)), "effective_from": clock.today().isoformat(),
               "terms": current.terms or ""}
    form = _rules_form(VersionCreateForm, data=_prefill(prefill))
    return _rules_page(form, lambda: plan_versions.add_version(current_user, plan, form.rules(),
                                                               form.effective_from.date, terms=form.terms.data),
                       template="admin/plans/version_form.html", plan=plan, version=None,
                       done=lambda version: _after_version(plan, f"Added version {version.version} of {plan.name}, "
                                                                 f"effective from {version.effective_from.isoformat()}."))


@bp.route("/plans/<int:plan_id>/versions/<int:version_id>/edit", methods=["GET", "POST"])
@admin_required
def version_edit(plan_id: int, version_id: int):
    """Change a version in place while it has earned nothing; otherwise explain why not."""
    plan = plan_service.get_plan(plan_id)
    version = plan_service.get_version(plan, version_id)
    if plan_service.version_has_earned(version):
        # Refused before reading the form: there is nothing to correct, only a new version to make.
        return render_template("admin/plans/version_used.html", plan=plan, version=version), (
            409 if request.method == "POST" else 200)
    form = _rules_form(VersionEditForm, data=_prefill({**rules_data(plan_service.rules_of(version)),
                                                       "terms": version.terms or ""}))
    return _rules_page(form, lambda: plan_versions.edit_version(current_user, version, form.rules(),
                                                                terms=form.terms.data),
                       template="admin/plans/version_form.html", plan=plan, version=version,
                       done=lambda _: _after_version(plan, f"Saved version {version.version} of {plan.name}."))


def _after_version(plan, message: str):
    """After a version commits: the recalculation's progress page when a job does it, else the plan."""
    return follow(f"{message} Its agents are being recalculated:") or finish(
        url_for("admin.plan_detail", plan_id=plan.id), message)


@bp.route("/plans/assignments", methods=["GET", "POST"])
@admin_required
def plan_assignments():
    """Every agent's plan assignments, and a form to add one."""
    form = AssignmentForm(data=_prefill({"agent_id": db_id_or_none(request.args.get("agent_id", ""))}))
    form.set_choices(plan_service.assignable_agents(), plan_service.list_plans())

    def done(assignment):
        return finish(url_for("admin.plan_assignments"), f"{assignment.agent.name} is on {assignment.plan.name} from "
                                                         f"{assignment.effective_from.isoformat()}.")

    return form_page(form, lambda: assignments.assign_plan(
        current_user, agent_id=form.agent_id.data, plan_id=form.plan_id.data,
        effective_from=form.effective_from.date, effective_to=form.effective_to.date),
        template="admin/plans/assignments.html", done=done, error_status=None,
        assignments=plan_service.list_assignments(), today=clock.today())


@bp.route("/plans/assignments/<int:assignment_id>/end", methods=["GET", "POST"])
@admin_required
def assignment_end(assignment_id: int):
    """End an assignment on a date (the agent has no plan from the next day, unless given one)."""
    assignment = plan_service.get_assignment(assignment_id)
    default_end = assignment.effective_to or max(clock.today(), assignment.effective_from)
    form = EndAssignmentForm(data=_prefill({"effective_to": default_end.isoformat()}))
    return form_page(form, lambda: assignments.end_assignment(current_user, assignment, form.effective_to.date),
                     template="admin/plans/assignment_end.html", error_status=None, assignment=assignment,
                     done=lambda _: finish(url_for("admin.plan_assignments"),
                                           f"{assignment.agent.name}'s {assignment.plan.name} assignment ends on "
                                           f"{assignment.effective_to.isoformat()}."))


@bp.route("/plans/simulator", methods=["GET", "POST"])
@admin_required
def plan_simulator():
    """Preview what a plan version (or typed rules) would pay on pasted sales; writes nothing."""
    version_id = db_id_or_none(request.args.get("version_id", ""))
    form = _rules_form(SimulatorForm, data=_prefill({"version_id": version_id}))
    form.set_versions(plan_service.list_plans())
    result, status = None, 200
    if request.method == "POST" and not _wants_more_rows(form):
        # Writes nothing: rolled back whatever happens.
        outcome = submit(form, lambda: simulator.simulate_sales(
            simulator.plan_for_simulation(form.version_id.data, form.rules() if form.has_rules() else None),
            simulator.parse_sales_csv(form.sales_csv.data), target=form.target.decimal,
            include_spiffs=form.include_spiffs.data), error_status=None, commit=False)
        result, status = outcome.value, outcome.status
    form.add_blank_rows()
    # htmx posts target only the simulator block; a full page includes the same partial.
    template = "admin/plans/_simulator.html" if is_htmx("simulator") else "admin/plans/simulator.html"
    return render_template(template, form=form, result=result), status


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error):
    """A paste beyond even the raised limit gets the simulator's own message, not a bare 413."""
    if request.endpoint != "admin.plan_simulator":
        return render_template("errors/error.html", code=413, error=error), 413
    form = _rules_form(SimulatorForm, formdata=None)
    form.set_versions(plan_service.list_plans())
    form.sales_csv.errors = ["The sales CSV is larger than 1 MB; simulate fewer lines at a time."]
    form.add_blank_rows()
    return render_template("admin/plans/simulator.html", form=form, result=None), 422
