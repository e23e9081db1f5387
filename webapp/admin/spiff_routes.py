"""SPIFF pages: the list, create, new version, end early, the detail with "who earned what", and the
progress of a background recompute. Admins change SPIFFs; managers may read them and see what
their own team earned (the access policy scopes the rows)."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_login import current_user

from webapp import clock
from webapp.admin import bp
from webapp.admin.spiff_forms import EndEarlyForm, SpiffCreateForm, SpiffVersionForm, rules_data
from webapp.auth import services as accounts
from webapp.auth.decorators import admin_required, manager_required
from webapp.catalog import services as catalogue
from webapp.spiffs import queries, recompute
from webapp.spiffs import services as spiffs
from webapp.web import FLASH, finish, form_page, is_htmx, progress_page, requested_page, run_service

def _prefill(data: dict) -> dict | None:
    """Initial values for a GET only: a posted form must stand on what was posted."""
    return data if request.method == "GET" else None


def _rules_form(form_class, **kwargs):
    """A rules form offering the catalogue and the teams."""
    form = form_class(**kwargs)
    form.set_choices(catalogue.list_products(), catalogue.list_categories(), accounts.list_managers())
    return form


def _done(message: str):
    """After a change commits: its recompute's progress page when a job does it, else the detail."""
    def done(change):
        """Flash what happened and go where the change can be followed."""
        if change.run is not None:
            progress = url_for("admin.spiff_recompute", spiff_id=change.spiff.id, recompute_id=change.run.id)
            return finish(progress,
                          f"{message} {change.run.total:,} agent-months are being recalculated.")
        months = f"{change.recomputed} agent-month{'s' if change.recomputed != 1 else ''} recalculated."
        return finish(url_for("admin.spiff_detail", spiff_id=change.spiff.id), f"{message} {months}")
    return done


@bp.route("/spiffs")
@manager_required
def spiffs_list():
    """Every SPIFF: its current version's days, reward and cap, and whether it is active."""
    return render_template("admin/spiffs/list.html", spiffs=queries.list_spiffs(clock.today()))


@bp.route("/spiffs/new", methods=["GET", "POST"])
@admin_required
def spiff_new():
    """Create a SPIFF; it pays the approved sales already in its days."""
    today = clock.today()
    form = _rules_form(SpiffCreateForm, data=_prefill({"first_day": today.isoformat(),
                                                       "last_day": today.isoformat()}))
    return form_page(form, lambda: spiffs.create_spiff(current_user, form.name.data, form.rules()),
                     template="admin/spiffs/form.html", spiff=None, done=_done("SPIFF created."))


def _detail_context(spiff, page: int) -> dict:
    """What the detail page and its "who earned what" fragment show."""
    return {"spiff": spiff, "summary": queries.summarise(spiff, clock.today()),
            "spans": queries.in_force(spiff),
            "earned": queries.who_earned_what(current_user, spiff, page),
            "runs": recompute.pending_runs(spiff.id)}


@bp.route("/spiffs/<int:spiff_id>")
@manager_required
def spiff_detail(spiff_id: int):
    """A SPIFF's versions and who earned what (managers: their team), paged."""
    context = _detail_context(spiffs.get_spiff(spiff_id), requested_page())
    # The pager swaps only the list; a full page includes the same partial.
    template = "admin/spiffs/_earned.html" if is_htmx("spiff-earned") else "admin/spiffs/detail.html"
    return render_template(template, **context)


@bp.route("/spiffs/<int:spiff_id>/versions/new", methods=["GET", "POST"])
@admin_required
def spiff_version_new(spiff_id: int):
    """A new version effective from a date, prefilled with the version in force today."""
    spiff = spiffs.get_spiff(spiff_id)
    today = clock.today()
    current = queries.summarise(spiff, today).current
    form = _rules_form(SpiffVersionForm, data=_prefill({**rules_data(spiffs.rules_of(current)),
                                                        "effective_from": today.isoformat()}))
    return form_page(form,
                     lambda: spiffs.add_version(current_user, spiff, form.rules(), form.effective_from.date),
                     template="admin/spiffs/form.html", spiff=spiff,
                     done=_done(f"New version of {spiff.name} saved."))


@bp.route("/spiffs/<int:spiff_id>/end", methods=["GET", "POST"])
@admin_required
def spiff_end(spiff_id: int):
    """End the SPIFF on an earlier day (a new version; sales after it stop earning it)."""
    spiff = spiffs.get_spiff(spiff_id)
    form = EndEarlyForm(data=_prefill({"last_day": clock.today().isoformat()}))
    return form_page(form, lambda: spiffs.end_early(current_user, spiff, form.last_day.date),
                     template="admin/spiffs/end.html", spiff=spiff,
                     summary=queries.summarise(spiff, clock.today()), done=_done(f"{spiff.name} ends early."))


@bp.route("/spiffs/<int:spiff_id>/recomputes/<int:recompute_id>")
@admin_required
def spiff_recompute(spiff_id: int, recompute_id: int):
    """A background recompute's progress; htmx polls the fragment until it finishes."""
    spiff = spiffs.get_spiff(spiff_id)
    run = recompute.get_run(spiff.id, recompute_id)
    return progress_page("recompute-progress", "admin/spiffs/_progress.html", "admin/spiffs/progress.html",
                         run.finished, spiff=spiff, run=run)


@bp.route("/spiffs/<int:spiff_id>/recomputes/<int:recompute_id>/retry", methods=["POST"])
@admin_required
def spiff_recompute_retry(spiff_id: int, recompute_id: int):
    """Queue a stopped recalculation again; it resumes where it stopped."""
    run = recompute.get_run(spiffs.get_spiff(spiff_id).id, recompute_id)
    back = url_for("admin.spiff_recompute", spiff_id=spiff_id, recompute_id=run.id)
    if not run_service(lambda: recompute.retry_run(run), unplaced=FLASH).ok:
        return redirect(back)
    return finish(back, "The recalculation is queued again.")
