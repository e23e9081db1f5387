"""Account services: authentication, user management and password reset."""

from __future__ import annotations

import secrets

from email_validator import EmailNotValidError, validate_email
from flask import current_app, render_template, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.audit.services import record
from webapp.auth import tokens as api_tokens
from webapp.auth.models import Role, User
from webapp.auth.passwords import MAX_PASSWORD_LENGTH, password_problem
from webapp.commissions.models import Settings
from webapp.errors import ServiceError, get_or_404
from webapp.extensions import db
from webapp.formtools import check_plain_text
from webapp.mail.services import queue_email

_RESET_SALT = "password-reset"

# Checked against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password-at-all", method="scrypt")


def hash_password(password: str) -> str:
    """Hash a password with scrypt."""
    return generate_password_hash(password, method="scrypt")


def normalise_email(email: str, field: str = "email") -> str:
    """Validate an email address and return it lower-cased."""
    try:
        info = validate_email((email or "").strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ServiceError(f"Enter a valid email address ({exc}).", field) from exc
    return info.normalized.lower()


def check_new_password(password: str, *, email: str, name: str, field: str = "password") -> None:
    """Refuse a password too short or long, common, guessable or built from the account's details."""
    settings = db.session.get(Settings, 1)
    problem = password_problem(password, email=email, name=name,
                               company=settings.company_name if settings else "")
    if problem:
        raise ServiceError(problem, field)


def find_user_by_email(email: str) -> User | None:
    """The user with this email, case-insensitively, or None."""
    return db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))


def authenticate(email: str, password: str) -> User | None:
    """Return the active user whose email and password match, else None (same cost either way)."""
    user = find_user_by_email(email)
    stored = user.password_hash if user else _DUMMY_HASH
    password_ok = check_password_hash(stored, (password or "")[:MAX_PASSWORD_LENGTH])
    if user is None or not password_ok or not user.active:
        return None
    return user


def load_user_from_session(session_id: str) -> User | None:
    """Resolve a Flask-Login session id ("id:token") to an active user, or None."""
    user_id, _, token = (session_id or "").partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_token != token:
        return None
    return user


def sign_out(user: User) -> None:
    """End the session being signed out of for good, so a copy of its cookies stops working too."""
    # Sessions and remember-me cookies carry the user's one session token (User.get_id), so
    # changing it also ends the user's sessions on their other devices.
    user.rotate_session_token()
    db.session.flush()


def sign_out_everywhere(user: User) -> None:
    """End every session and remember-me cookie of the user, on every device (audited)."""
    user.rotate_session_token()
    db.session.flush()
    record(user, "user.sign_out_everywhere", user)


def _check_manager(role: str, manager_id: int | None) -> int | None:
    """Agents belong to an active manager; other roles have no manager."""
    if role != Role.AGENT:
        return None
    if manager_id is None:
        raise ServiceError("Choose the agent's manager.", "manager_id")
    manager = db.session.get(User, manager_id)
    if manager is None or manager.role != Role.MANAGER or not manager.active:
        raise ServiceError("Choose an active manager.", "manager_id")
    return manager.id


def _snapshot(user: User) -> dict:
    """The audited fields of a user."""
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "manager_id": user.manager_id,
        "active": user.active,
    }


def create_user(actor, *, email: str, name: str, role: str, password: str | None = None,
                manager_id: int | None = None, password_hash: str | None = None) -> User:
    """Create a user after validating every field; flushes, the caller commits."""
    # `password_hash` instead of `password` skips the password policy: only for the demo, whose
    # accounts share a published password on purpose.
    email = normalise_email(email)
    name = check_plain_text((name or "").strip(), "name")
    if not name:
        raise ServiceError("Enter a name.", "name")
    if len(name) > 120:
        raise ServiceError("Use at most 120 characters.", "name")
    if role not in set(Role):
        raise ServiceError("Choose admin, manager or agent.", "role")
    if password_hash is None:
        check_new_password(password, email=email, name=name)
        password_hash = hash_password(password)
    if find_user_by_email(email) is not None:
        raise ServiceError("A user with this email already exists.", "email")
    user = User(
        email=email,
        name=name,
        role=role,
        manager_id=_check_manager(role, manager_id),
        password_hash=password_hash,
        active=True,
    )
    try:
        # Two admins adding the same email at once: the unique constraint decides, politely.
        with db.session.begin_nested():
            db.session.add(user)
            db.session.flush()
    except IntegrityError as exc:
        raise ServiceError("A user with this email already exists.", "email") from exc
    record(actor, "user.create", user, None, _snapshot(user))
    return user


def update_user(actor, user: User, *, name: str, role: str, manager_id: int | None,
                active: bool) -> User:
    """Change a user's name, role, manager or active flag; flushes, the caller commits."""
    before = _snapshot(user)
    name = check_plain_text((name or "").strip(), "name")
    if not name:
        raise ServiceError("Enter a name.", "name")
    if role not in set(Role):
        raise ServiceError("Choose admin, manager or agent.", "role")
    if actor is not None and actor.id == user.id and (role != user.role or not active):
        raise ServiceError("You cannot change your own role or deactivate yourself.", "role")
    leaves_team_without_manager = user.role == Role.MANAGER and (
        role != Role.MANAGER or not active
    )
    if leaves_team_without_manager and any(member.active for member in user.team):
        raise ServiceError("Move this manager's agents to another manager first.", "role")
    new_manager = _check_manager(role, manager_id)
    if new_manager == user.id:
        raise ServiceError("An agent cannot manage themselves.", "manager_id")
    user.name, user.role, user.manager_id = name, role, new_manager
    if user.active and not active:
        # Deactivation ends the user's open sessions at once, and for good their API tokens: a
        # later reactivation must not bring back a token copied into some script meanwhile.
        user.rotate_session_token()
        api_tokens.revoke_all_tokens(actor, user)
    user.active = active
    db.session.flush()
    record(actor, "user.update", user, before, _snapshot(user))
    return user


def get_user(user_id: int, *, lock: bool = False) -> User:
    """The user with this id, or NotFound (`lock`: read afresh under a row lock, for a change
    checked against what was read)."""
    return get_or_404(User, user_id, fresh_lock=lock)


def list_users() -> list[User]:
    """Every user, by role then name."""
    return list(db.session.scalars(select(User).order_by(User.role, User.name)))


def users_page(*, after_id: int | None, limit: int, role: str | None = None,
               active: bool | None = None) -> list[User]:
    """Users by id after `after_id`, of a role and active or not when given; at most `limit`."""
    query = select(User).order_by(User.id).limit(limit)
    if after_id is not None:
        query = query.where(User.id > after_id)
    if role is not None:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.active.is_(active))
    return list(db.session.scalars(query))


def list_managers() -> list[User]:
    """Active managers, for the agent's manager field."""
    return list(db.session.scalars(
        select(User).where(User.role == Role.MANAGER, User.active.is_(True)).order_by(User.name)
    ))


def list_agents(keep_ids: set[int] = frozenset()) -> list[User]:
    """Active agents by name, plus any deactivated agent in `keep_ids` (so a save never drops them)."""
    return sorted((u for u in list_users()
                   if u.role == Role.AGENT and (u.active or u.id in keep_ids)),
                  key=lambda u: u.name.lower())


def _reset_serializer() -> URLSafeTimedSerializer:
    """Signer for reset links, keyed by the app's secret."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_RESET_SALT)


def _password_fingerprint(user: User) -> str:
    """A piece of the current hash: once the password changes, older links stop working."""
    return user.password_hash[-16:]


def make_reset_token(user: User) -> str:
    """A signed, expiring token that works until the password changes (so only once)."""
    return _reset_serializer().dumps({"uid": user.id, "pw": _password_fingerprint(user)})


def _external_url(endpoint: str, **values) -> str:
    """An absolute URL for an email, on BASE_URL when it is set."""
    # Without BASE_URL, Flask takes the host from the request's Host header, which the client
    # chooses: a forged Host would send the victim a reset link to the attacker's site.
    base = current_app.config.get("BASE_URL", "")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def request_password_reset(email: str) -> None:
    """Queue a reset link for an active account with this email (sent after the commit); else nothing.

    The provider is never called inside the request: an unreachable one was a 500 for known
    addresses only (and a slow one a telling delay). Each request is a new link, so a new key;
    the delivery job's retries reuse the row's key and never send it twice."""
    user = find_user_by_email(email)
    if user is None or not user.active:
        return
    link = _external_url("auth.reset_password", token=make_reset_token(user))
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    queue_email(
        key=f"password-reset:{user.id}:{secrets.token_hex(16)}",
        to=user.email,
        subject="Reset your Sales Tracking password",
        text=render_template("email/password_reset.txt", user=user, link=link, minutes=minutes),
        html=render_template("email/password_reset.html", user=user, link=link, minutes=minutes),
        meta={"kind": "password_reset", "user_id": str(user.id)},
    )


def user_for_reset_token(token: str) -> User:
    """The user a reset token is valid for, or a ServiceError saying why it is not."""
    try:
        data = _reset_serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
    except SignatureExpired as exc:
        raise ServiceError("This reset link has expired. Ask for a new one.", status=410) from exc
    except BadSignature as exc:
        raise ServiceError("This reset link is not valid. Ask for a new one.", status=404) from exc
    user = db.session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or not user.active or data.get("pw") != _password_fingerprint(user):
        raise ServiceError("This reset link has already been used. Ask for a new one.", status=410)
    return user


def reset_password(token: str, password: str) -> User:
    """Set a new password through a reset token; the token and all sessions stop working."""
    user = user_for_reset_token(token)
    check_new_password(password, email=user.email, name=user.name)
    user.password_hash = hash_password(password)
    user.rotate_session_token()
    db.session.flush()
    record(user, "user.password_reset", user)
    return user
