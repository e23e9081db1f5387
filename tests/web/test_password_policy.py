"""Passwords: long enough is not enough; common, guessable and self-describing passwords are refused
wherever a password is set (admin's new user, the reset link, `flask users create`), with the
reason beside the field."""

from __future__ import annotations

import contextvars
import re
from html import unescape

import pytest
from sqlalchemy import func, select

from tests.conftest import TEST_PASSWORD, Browser
from tests.web._html import field_error
from webapp.auth import services
from webapp.auth.models import Role, User
from webapp.auth.passwords import password_problem
from webapp.commissions.periods import get_settings
from webapp.extensions import db

EMAIL = "alice.smith@example.com"
GOOD = "tram violet harbour lantern"
# (password, words the reason must contain): each of these passed the 10-character rule alone.
REFUSED = [
    ("aaaaaaaaaa", "Repeats like"),
    ("password123", "very common password"),
    ("Password1234", "similar to a commonly used password"),
    ("alice.smith-2026", "email address"),
]


def _user_count() -> int:
    """How many user rows exist."""
    return db.session.scalar(select(func.count(User.id)))


# --- the policy ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("password, why", REFUSED)
def test_common_guessable_and_own_email_passwords_are_refused_with_a_reason(password, why):
    problem = password_problem(password, email=EMAIL, name="Alice Smith", company="Acme Clinics")
    assert problem is not None and why in problem
    assert problem.startswith(("Too easy to guess.", "Do not put your email address"))


def test_a_good_passphrase_is_accepted():
    assert password_problem(GOOD, email=EMAIL, name="Alice Smith", company="Acme Clinics") is None


def test_the_email_local_part_is_refused_whatever_its_case_and_surroundings():
    problem = password_problem("My-ALICE.SMITH-account!", email=EMAIL)
    assert problem is not None and "alice.smith" in problem
    # The same password is fine for someone else.
    assert password_problem("My-ALICE.SMITH-account!", email="bob.jones@example.com") is None


@pytest.mark.parametrize("password, details", [
    ("northwindclinics1", {"company": "Northwind Clinics"}),
    ("adalovelace1815", {"name": "Ada Lovelace", "email": "countess@example.com"}),
    ("AdaLovelace!", {"name": "Ada Lovelace", "email": "countess@example.com"}),
])
def test_passwords_built_from_the_name_or_company_are_refused(password, details):
    problem = password_problem(password, **details)
    assert problem is not None and "built from your name" in problem
    assert password_problem(password) is None, "only the account's own details make it guessable"


def test_length_limits_still_hold_and_long_passwords_are_estimated_without_error():
    assert password_problem("Tr4m-v!ol", email=EMAIL) == "Use at least 10 characters."
    assert password_problem("x" * 257, email=EMAIL) == "Use at most 256 characters."
    # zxcvbn itself refuses more than 72 characters: the first 72 are estimated.
    assert password_problem((GOOD + " ") * 9 + "x", email=EMAIL) is None
    assert "Too easy to guess" in password_problem("a" * 256, email=EMAIL)


# --- admin: new user ----------------------------------------------------------------------------------

def _new_user(**overrides) -> dict:
    """The new-user form for an admin called Alice Smith."""
    return {"email": EMAIL, "name": "Alice Smith", "role": "admin", "manager_id": "", **overrides}


@pytest.mark.parametrize("password, why", REFUSED)
def test_admin_new_user_refuses_a_weak_password_beside_the_field(as_admin, password, why):
    before = _user_count()
    response = as_admin.post("/admin/users/new", _new_user(password=password))
    assert response.status_code == 422
    error = field_error(response.get_data(as_text=True), "password")
    assert error is not None and why in error
    assert _user_count() == before


def test_admin_new_user_accepts_a_good_passphrase(app, as_admin):
    response = as_admin.post("/admin/users/new", _new_user(password=GOOD))
    assert response.status_code == 302
    assert Browser(app.test_client()).post("/login", {"email": EMAIL, "password": GOOD}).status_code == 302


def test_the_new_user_form_says_what_is_refused(as_admin):
    html = unescape(as_admin.get("/admin/users/new").get_data(as_text=True))
    assert "common passwords and ones built from the user's name or email address are refused" in html


# --- the reset link -----------------------------------------------------------------------------------

def _reset_path(app, user) -> str:
    """A valid reset link for `user`, as a path (as the emailed link would carry)."""
    with app.test_request_context():
        return f"/password/reset/{services.make_reset_token(user)}"


def _signs_in(app, email: str, password: str) -> bool:
    """Whether a fresh browser can sign in with these credentials."""
    return Browser(app.test_client()).post("/login", {"email": email, "password": password}).status_code == 302


@pytest.mark.parametrize("password, why", REFUSED)
def test_reset_refuses_a_weak_password_beside_the_field_and_changes_nothing(app, browser, factory,
                                                                          password, why):
    user = factory.user(Role.AGENT, email=EMAIL, name="Alice Smith")
    path = _reset_path(app, user)
    response = browser.post(path, {"password": password, "confirm": password})
    assert response.status_code == 422
    error = field_error(response.get_data(as_text=True), "password")
    assert error is not None and why in error
    assert _signs_in(app, EMAIL, TEST_PASSWORD) and not _signs_in(app, EMAIL, password)
    assert browser.get(path).status_code == 200, "a refused attempt does not use the link up"


def test_reset_accepts_a_good_passphrase(app, browser, factory):
    user = factory.user(Role.AGENT, email=EMAIL, name="Alice Smith")
    response = browser.post(_reset_path(app, user), {"password": GOOD, "confirm": GOOD})
    assert response.status_code == 302
    assert _signs_in(app, EMAIL, GOOD)


def test_reset_refuses_the_company_name(app, browser, factory):
    get_settings().company_name = "Northwind Clinics"
    db.session.flush()
    user = factory.user(Role.AGENT)
    response = browser.post(_reset_path(app, user), {"password": "Northwind-2026", "confirm": "Northwind-2026"})
    assert response.status_code == 422
    assert "company" in field_error(response.get_data(as_text=True), "password")


# --- flask users create -------------------------------------------------------------------------------

def _create(app, password: str):
    """`flask users create` for Alice Smith with this password, as the real CLI runs it."""
    return contextvars.Context().run(app.test_cli_runner().invoke, args=[
        "users", "create", "--email", EMAIL, "--name", "Alice Smith", "--role", "admin", "--password", password])


@pytest.mark.parametrize("password, why", REFUSED)
def test_cli_refuses_a_weak_password_with_the_reason(app, password, why):
    before = _user_count()
    result = _create(app, password)
    assert result.exit_code != 0
    assert re.search(r"password: .*" + re.escape(why), result.output), result.output
    assert "Traceback" not in result.output
    assert _user_count() == before


def test_cli_accepts_a_good_passphrase(app):
    result = _create(app, GOOD)
    assert result.exit_code == 0, result.output
    assert _signs_in(app, EMAIL, GOOD)
