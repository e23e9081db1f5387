"""API v1 administration (admins, as the users and settings pages): accounts (list, read, create,
change: role, team, deactivation) and the installation's settings. Every rule, audit row and side
effect (a deactivation ends sessions and revokes tokens) is the services'."""

from __future__ import annotations

from webapp.api.admin_schemas import SettingsOut, SettingsPatch, UserIn, UserOut, UserPage, UserPatch, UserQuery
from webapp.api.framework import decode_cursor, keyset_page, operation, require_scope
from webapp.auth.tokens import AREAS
from webapp.auth import services as accounts
from webapp.auth.models import Role
from webapp.commissions import periods

ADMINS = (Role.ADMIN,)
SETTINGS_FIELDS = tuple(SettingsOut.model_fields)


def _user_out(user) -> UserOut:
    """An account for the API (never its password or session)."""
    return UserOut(id=user.id, email=user.email, name=user.name, role=user.role, manager_id=user.manager_id,
                   active=user.active, created_at=user.created_at)


@operation("GET", "/users", summary="Accounts, by id", tag="Administration", area="admin", query=UserQuery,
           responses={200: UserPage}, roles=ADMINS)
def list_users(user, query: UserQuery):
    """Every account, filtered by role and active, paginated."""
    page, after = keyset_page(accounts.users_page(after_id=decode_cursor(query.cursor), limit=query.limit + 1,
                                                  role=query.role, active=query.active), query.limit)
    return UserPage(items=[_user_out(u) for u in page], next_cursor=after)


@operation("GET", "/users/{user_id}", summary="One account", tag="Administration", area="admin",
           responses={200: UserOut}, roles=ADMINS)
def get_user(user, user_id: int):
    """An account (unknown: 404)."""
    return _user_out(accounts.get_user(user_id))


@operation("POST", "/users", summary="Create an account (it can sign in at once; the token needs write access "
                                    "to every area)", tag="Administration",
           area="admin", body=UserIn, responses={201: UserOut}, roles=ADMINS, write=True)
def create_user(user, body: UserIn):
    """A new admin, manager or agent (an agent on an active manager's team); the email is unique."""
    _every_area()
    return _user_out(accounts.create_user(user, email=body.email, name=body.name, role=body.role,
                                          password=body.password, manager_id=body.manager_id)), 201


def _every_area() -> None:
    """An account can do all its role allows, so making or changing one takes a token that may
    write every area (an admin:write token for a catalogue script must not make itself an admin)."""
    for area in AREAS:
        require_scope(area, write=True)


def _locked_user(user, user_id: int) -> UserOut:
    """The account as GET answers it, locked for the change (for If-Match)."""
    return _user_out(accounts.get_user(user_id, lock=True))


@operation("PATCH", "/users/{user_id}", summary="Change an account's name, role, manager or active flag (the "
                                              "token needs write access to every area)",
           tag="Administration", area="admin", body=UserPatch, responses={200: UserOut}, roles=ADMINS, write=True,
           current=_locked_user)
def update_user(user, user_id: int, body: UserPatch):
    """Only the fields given change. Nobody changes their own role or deactivates themselves, and a
    manager with active agents keeps the role until they move (422 naming the field)."""
    _every_area()
    account = accounts.get_user(user_id)
    given = body.model_fields_set
    return _user_out(accounts.update_user(
        user, account, name=body.name if "name" in given and body.name is not None else account.name,
        role=body.role or account.role,
        manager_id=body.manager_id if "manager_id" in given else account.manager_id,
        active=body.active if body.active is not None else account.active))


def _settings_out(settings) -> SettingsOut:
    """The settings row for the API."""
    return SettingsOut(**{name: getattr(settings, name) for name in SETTINGS_FIELDS})


@operation("GET", "/settings", summary="The installation's settings", tag="Administration", area="admin",
           responses={200: SettingsOut}, roles=ADMINS)
def get_settings(user):
    """Company name, approval, statement cadence, grace time, reminders, statement requests."""
    return _settings_out(periods.get_settings())


def _locked_settings(user) -> SettingsOut:
    """The settings as GET answers them, locked for the change (for If-Match)."""
    return _settings_out(periods.get_settings(lock=True))


@operation("PATCH", "/settings", summary="Change the installation's settings", tag="Administration",
           area="admin", body=SettingsPatch, responses={200: SettingsOut}, roles=ADMINS, write=True,
           current=_locked_settings)
def update_settings(user, body: SettingsPatch):
    """Only the fields given change; a new cadence applies from the next month not yet begun. Two
    admins changing them at once: send If-Match with the ETag read (412 when they changed since)."""
    # Read under the row lock even without If-Match: two partial changes at once both apply.
    current = _settings_out(periods.get_settings(lock=True)).model_dump()
    changed = {name: value for name, value in body.model_dump().items()
               if name in body.model_fields_set and value is not None}
    return _settings_out(periods.update_settings(user, **{**current, **changed}))
