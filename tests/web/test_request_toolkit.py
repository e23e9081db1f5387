"""The request toolkit (webapp/web.py): one commit when a service call succeeds, a rollback and the
refusal beside its field when it fails, jobs only after a commit, htmx detection, flash + trigger."""

from __future__ import annotations

import pytest
from flask import get_flashed_messages
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField
from wtforms.validators import ValidationError

from tests.support.queues import jobs
from webapp.catalog.models import Category
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.tasks import enqueue_after_commit
from webapp.web import (FLASH, REVIEW_CHANGED, SALES_CHANGED, check, finish, form_page, is_htmx, run_service,
                        submit, with_trigger)

pytestmark = pytest.mark.usefixtures("empty_queues")

JOB = "jobs.statements.render_statement"


class NameForm(FlaskForm):
    """A one-field form (CSRF is the app's business, not the toolkit's)."""

    class Meta:
        csrf = False

    name = StringField("Name")


def _write(code: str, *, refuse: ServiceError | None = None):
    """A service call: add a category, ask for a job after the commit, then maybe refuse."""

    def call():
        db.session.add(Category(code=code, name=code.title()))
        db.session.flush()
        enqueue_after_commit("default", JOB, 42)
        if refuse is not None:
            raise refuse
        return code

    return call


def _stored(code: str) -> bool:
    """True when the category is in the database (visible after the request's transaction ended)."""
    return db.session.scalar(select(Category).where(Category.code == code)) is not None


def test_a_successful_call_is_committed_and_its_jobs_go_out_after(app):
    with app.test_request_context(method="POST"):
        outcome = run_service(_write("toolkit_ok"))
        assert (outcome.ok, outcome.value, outcome.status, outcome.committed) == (True, "toolkit_ok", 200, True)
        assert _stored("toolkit_ok")
    assert jobs("default") == [(JOB, (42,))]


def test_a_refused_call_is_rolled_back_and_asks_for_no_job(app):
    form_error = ServiceError("Use another name.", "name")
    with app.test_request_context(method="POST", data={"name": "x"}):
        form = NameForm()
        outcome = run_service(_write("toolkit_refused", refuse=form_error), form=form)
        assert (outcome.ok, outcome.error, outcome.status, outcome.committed) == (False, form_error, 422, False)
        assert form.name.errors == ["Use another name."]
        assert not _stored("toolkit_refused")
        db.session.commit()  # a later commit in the same request sends nothing the rollback dropped
    assert jobs("default") == []


def test_a_refusal_keeps_the_service_status_unless_the_view_fixes_one(app):
    conflict = ServiceError("Already decided.", status=409)
    with app.test_request_context(method="POST"):
        assert run_service(_write("toolkit_409", refuse=conflict)).status == 409
        assert run_service(_write("toolkit_422", refuse=conflict), error_status=422).status == 422


def test_not_found_is_rolled_back_and_raised_as_the_404(app):
    with app.test_request_context(method="POST"), pytest.raises(NotFound):
        run_service(_write("toolkit_404", refuse=NotFound()))
    assert not _stored("toolkit_404")
    assert jobs("default") == []


def test_a_dry_run_rolls_back_even_a_success(app):
    with app.test_request_context(method="POST"):
        outcome = run_service(_write("toolkit_dry"), commit=False)
        assert (outcome.ok, outcome.value, outcome.committed) == (True, "toolkit_dry", False)
        assert not _stored("toolkit_dry")
    assert jobs("default") == []


@pytest.mark.parametrize("keep", [True, False])
def test_a_commit_condition_decides_on_the_value(app, keep):
    with app.test_request_context(method="POST"):
        outcome = run_service(_write(f"toolkit_if_{keep}"), commit=lambda value: keep)
        assert outcome.ok and outcome.committed is keep
        assert _stored(f"toolkit_if_{keep}") is keep
    assert jobs("default") == ([(JOB, (42,))] if keep else [])


def test_where_a_refusal_naming_no_field_is_shown(app):
    unplaced = ServiceError("Someone else resolved it.", status=409)
    with app.test_request_context(method="POST", data={"name": "x"}):
        on_top, flashed, beside, nowhere = NameForm(), NameForm(), NameForm(), NameForm()
        run_service(_write("toolkit_top", refuse=unplaced), form=on_top)
        run_service(_write("toolkit_flash", refuse=unplaced), form=flashed, unplaced=FLASH)
        run_service(_write("toolkit_beside", refuse=unplaced), form=beside, unplaced="name")
        run_service(_write("toolkit_nowhere", refuse=unplaced), form=nowhere, unplaced=None)
        assert on_top.form_errors == ["Someone else resolved it."] and not on_top.name.errors
        assert flashed.form_errors == [] and not flashed.name.errors
        assert beside.name.errors == ["Someone else resolved it."] and beside.form_errors == []
        assert nowhere.form_errors == [] and not nowhere.name.errors
        assert get_flashed_messages(with_categories=True) == [("error", "Someone else resolved it.")]


def test_a_field_the_form_lacks_goes_above_the_form(app):
    with app.test_request_context(method="POST", data={"name": "x"}):
        form = NameForm()
        run_service(_write("toolkit_other", refuse=ServiceError("Pick a manager.", "manager_id")), form=form,
                    unplaced=FLASH)
        assert form.form_errors == ["Pick a manager."]
        assert get_flashed_messages() == []


def test_check_leaves_the_transaction_alone(app):
    with app.test_request_context():
        db.session.add(Category(code="toolkit_check", name="Check"))
        refused = check(lambda: (_ for _ in ()).throw(ServiceError("Not a period.")), unplaced=None)
        assert (refused.ok, refused.status, refused.error.message) == (False, 422, "Not a period.")
        assert check(lambda: 7).value == 7
        assert _stored("toolkit_check")  # neither committed nor rolled back: still pending here


def test_an_invalid_form_is_refused_without_calling_the_service(app):
    calls = []

    class Required(NameForm):
        def validate_name(self, field):
            raise ValidationError("Enter a name.")

    with app.test_request_context(method="POST", data={"name": ""}):
        outcome = submit(Required(), lambda: calls.append(1))
        assert (outcome.ok, outcome.status, outcome.error) == (False, 422, None)
    assert calls == []


def test_form_page_renders_saves_and_refuses(app):
    done = lambda value: ("done", value)  # noqa: E731
    with app.test_request_context(method="GET"):
        page, status = form_page(NameForm(), _write("toolkit_get"), template="_form_page.html", done=done,
                                 heading="Name")
        assert status == 200 and "Name" in page and not _stored("toolkit_get")
    with app.test_request_context(method="POST", data={"name": "x"}):
        assert form_page(NameForm(), _write("toolkit_post"), template="_form_page.html", done=done) == (
            "done", "toolkit_post")
    with app.test_request_context(method="POST", data={"name": "x"}):
        form = NameForm()
        _, status = form_page(form, _write("toolkit_bad", refuse=ServiceError("Taken.", "name", status=409)),
                              template="_form_page.html", done=done, heading="Name")
        assert status == 422 and form.name.errors == ["Taken."]


@pytest.mark.parametrize("headers, target, expected", [
    ({}, None, False),
    ({"HX-Request": "true"}, None, True),
    ({"HX-Request": "true"}, "sales-table", False),
    ({"HX-Request": "true", "HX-Target": "sales-table"}, "sales-table", True),
    ({"HX-Request": "true", "HX-Target": "main"}, "sales-table", False),
    ({"HX-Target": "sales-table"}, "sales-table", False),
    ({"HX-Request": "false", "HX-Target": "sales-table"}, "sales-table", False),
])
def test_is_htmx_for_a_target(app, headers, target, expected):
    with app.test_request_context(headers=headers):
        assert is_htmx(target) is expected


def test_finish_flashes_redirects_and_triggers(app):
    with app.test_request_context(method="POST"):
        response = finish("/manage/payouts", "Paid.", trigger=REVIEW_CHANGED, code=303)
        assert (response.status_code, response.headers["Location"]) == (303, "/manage/payouts")
        assert response.headers["HX-Trigger"] == "review-changed"
        assert get_flashed_messages(with_categories=True) == [("success", "Paid.")]
        assert "HX-Trigger" not in finish("/", "Done.", category="info").headers


def test_with_trigger_names_every_event(app):
    with app.test_request_context():
        response = with_trigger("<tr></tr>", REVIEW_CHANGED, SALES_CHANGED)
        assert response.headers["HX-Trigger"] == "review-changed, sales-changed"
        assert response.get_data(as_text=True) == "<tr></tr>"
