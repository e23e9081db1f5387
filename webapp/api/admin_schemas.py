"""Administration bodies of the API (admins, as the users and settings pages): accounts and the
installation's settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from webapp.api.framework import Page, PageQuery, Strict
from webapp.api.schemas import Id
from webapp.api.text import Documented, text

RoleName = Literal["admin", "manager", "agent"]


class UserOut(BaseModel):
    """An account: who, which role, on which manager's team, and whether it may sign in."""

    id: int
    email: str
    name: str
    role: RoleName
    manager_id: int | None = Field(description="An agent's manager (null for managers and admins)")
    active: bool
    created_at: datetime


class UserPage(Page[UserOut]):
    """A page of users, by id."""


class UserQuery(PageQuery):
    """Filters of the user list."""

    role: RoleName | None = None
    active: bool | None = Field(None, description="true: only those who may sign in; false: only deactivated ones")


class UserIn(Strict):
    """A new account, as the new-user page makes one."""

    # An agent is on a manager's team.
    model_config = ConfigDict(json_schema_extra={
        "if": {"properties": {"role": {"const": "agent"}}},
        "then": {"required": ["manager_id"], "properties": {"manager_id": {"type": "integer"}}}})
    email: Annotated[str, StringConstraints(min_length=1, max_length=254)] = Field(
        description="Unique; the sign-in name (lower-cased)")
    name: text(120)
    role: RoleName
    password: Annotated[str, StringConstraints(min_length=1, max_length=256), Documented(minLength=10)] = Field(
        description="The initial password: at least 10 characters, not a common or guessable one")
    manager_id: Id | None = Field(None, description="An agent's manager: an active manager (agents only)")


class UserPatch(Strict):
    """Changes to an account (only the fields given change)."""

    name: text(120) | None = None
    role: RoleName | None = None
    manager_id: Id | None = Field(None, description="An agent's manager; give it with the role when it changes")
    active: bool | None = Field(None, description="false: the account can no longer sign in, its sessions end and "
                                                  "its API tokens are revoked")


Hours = Annotated[int, Field(ge=0, le=720)]
Days = Annotated[int, Field(ge=0, le=365)]


class SettingsOut(BaseModel):
    """The installation's settings."""

    company_name: str = Field(description="Shown on every statement and email")
    approval_required: bool = Field(description="Sales wait for a manager's approval before they earn")
    period_cadence: Literal["semi_monthly", "monthly"] = Field(
        description="Statement periods; a change applies from the next month not yet begun")
    grace_hours: int = Field(description="Hours after a period ends before its statements are issued")
    reminder_days: int = Field(description="Days between unpaid-balance reminders (0: never)")
    plan_reminder_days: int = Field(description="Days between plan document reminders (0: never)")
    statement_requests_per_hour: int = Field(description="Statements each person may request an hour")


class SettingsPatch(Strict):
    """Changes to the settings (only the fields given change)."""

    company_name: text(120) | None = None
    approval_required: bool | None = None
    period_cadence: Literal["semi_monthly", "monthly"] | None = None
    grace_hours: Hours | None = None
    reminder_days: Days | None = None
    plan_reminder_days: Days | None = None
    statement_requests_per_hour: Annotated[int, Field(ge=1, le=100)] | None = None
