"""Sign-in, sign-out and password reset pages."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from webapp.auth import bp
from webapp.auth import services
from webapp.auth.forms import ForgotPasswordForm, LoginForm, ResetPasswordForm
from webapp.extensions import limiter, login_manager
from webapp.web import check, finish, run_service, submit


@login_manager.user_loader
def load_user(session_id: str):
    """Flask-Login hook: the active user behind a session id."""
    return services.load_user_from_session(session_id)


def _login_failed(response) -> bool:
    """Only failed sign-ins count toward the throttle."""
    return request.method == "POST" and response.status_code != 302


def _account_key() -> str:
    """Throttle key: the email being tried, lower-cased."""
    return "login-account:" + (request.form.get("email") or "").strip().lower()


def _ip_key() -> str:
    """Throttle key: the client address."""
    return "login-ip:" + (request.remote_addr or "unknown")


def _safe_next(target: str | None) -> str | None:
    """Only follow a `next` that stays on this site."""
    # Browsers drop tabs and newlines inside a URL ("/\t/evil" becomes "//evil") and a newline
    # cannot go in a header at all, so any control character disqualifies the target.
    if not target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_ACCOUNT"], key_func=_account_key,
               methods=["POST"], deduct_when=_login_failed, scope="login-account")
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_IP"], key_func=_ip_key,
               methods=["POST"], deduct_when=_login_failed, scope="login-ip")
def login():
    """Show the sign-in form and sign the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            user = services.authenticate(form.email.data, form.password.data)
            if user is not None:
                login_user(user, remember=form.remember.data)
                return redirect(_safe_next(request.args.get("next")) or url_for("main.home"))
            # One message for unknown email, wrong password and inactive account.
            form.password.errors.append("Email or password is not correct.")
            status = 401
        else:
            status = 422
    return render_template("auth/login.html", form=form), status


def _signed_out(end_sessions, message: str):
    """End the user's sessions with `end_sessions(user)`, then this browser's, and say so."""
    user = current_user._get_current_object()
    run_service(lambda: end_sessions(user))
    logout_user()
    return finish(url_for("auth.login"), message, category="info")


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out (POST only, so a link on another site cannot sign anyone out) for good."""
    return _signed_out(services.sign_out, "You are signed out, here and on any other device where you were signed in.")


@bp.route("/profile/sign-out-everywhere", methods=["POST"])
@login_required
def sign_out_everywhere():
    """End all of the user's sessions and remember-me cookies, this one included."""
    return _signed_out(services.sign_out_everywhere, "You are signed out on every device. Sign in again to continue.")


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("10 per hour", key_func=_ip_key, methods=["POST"], scope="password-forgot")
def forgot_password():
    """Ask for a reset link; the answer never reveals whether the email is known."""
    form = ForgotPasswordForm()
    # Known or not, the same commit: the reset email goes out after it.
    if submit(form, lambda: services.request_password_reset(form.email.data)).ok:
        return finish(url_for("auth.login"), "If an active account uses that email, a reset link is on its way.",
                      category="info")
    status = 422 if request.method == "POST" else 200
    return render_template("auth/forgot.html", form=form), status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Set a new password from an emailed link (single use, expiring)."""
    valid = check(lambda: services.user_for_reset_token(token), unplaced=None)
    if not valid.ok:
        return render_template("auth/reset_invalid.html", message=valid.error.message), valid.status
    form = ResetPasswordForm()
    status = 200
    if request.method == "POST":
        # Every refusal (a weak password, or the link used meanwhile) is said beside the password.
        outcome = submit(form, lambda: services.reset_password(token, form.password.data), unplaced="password")
        if outcome.ok:
            return finish(url_for("auth.login"), "Your password is changed. Sign in with the new one.")
        status = outcome.status
    return render_template("auth/reset.html", form=form, token=token), status
