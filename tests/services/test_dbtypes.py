"""The shared column types: StrEnum values stored as plain strings, UTC timestamps on every database."""

import json
from datetime import datetime, timezone
from typing import get_args
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from webapp.api import schemas, statement_schemas
from webapp.auth.models import Role, User
from webapp.commissions.models import EntryKind, PeriodStatus
from webapp.extensions import db, enum_check
from webapp.mail.models import EmailStatus, OutgoingEmail
from webapp.disputes.models import DisputeStatus
from webapp.sales.models import SaleStatus
from webapp.statements.models import StatementKind, StatementStatus

ALL_ENUMS = (Role, SaleStatus, EntryKind, PeriodStatus, DisputeStatus, StatementKind, StatementStatus,
             EmailStatus)


def _email(**fields) -> OutgoingEmail:
    """A queued email, flushed."""
    email = OutgoingEmail(key=f"dbtypes:{len(fields)}:{sorted(fields)}", to="a@example.com", subject="s",
                          text="t", **fields)
    db.session.add(email)
    db.session.flush()
    return email


def test_enum_members_are_stored_and_found_as_their_plain_values(factory):
    agent = factory.user(Role.AGENT)
    email = _email(status=EmailStatus.SENDING)

    stored = db.session.execute(text("SELECT role FROM users WHERE id = :id"), {"id": agent.id}).scalar_one()
    assert (stored, type(stored)) == ("agent", str)
    assert db.session.execute(text("SELECT status FROM outgoing_emails WHERE id = :id"),
                              {"id": email.id}).scalar_one() == "sending"
    assert db.session.scalar(select(User.id).where(User.id == agent.id, User.role == Role.AGENT)) == agent.id
    assert db.session.scalar(select(User.id).where(User.id == agent.id, User.role.in_([Role.AGENT])))


@pytest.mark.parametrize("kinds", ALL_ENUMS)
def test_each_member_is_its_stored_string_in_comparisons_text_and_json(kinds):
    for member in kinds:
        assert member == member.value and str(member) == f"{member}" == member.value
        assert json.dumps({"status": member}) == json.dumps({"status": member.value})


def test_the_check_constraints_keep_their_migrated_text():
    assert str(enum_check("role", Role, name="role_known").sqltext) == "role IN ('admin', 'manager', 'agent')"
    assert str(enum_check("status", SaleStatus, name="status_known").sqltext) == (
        "status IN ('pending', 'approved', 'rejected', 'cancelled', 'voided')")


def test_the_api_vocabularies_match_the_enums():
    # The schemas spell the values out (Literal) so the published OpenAPI document stays as it is.
    assert get_args(schemas.SaleStatusName) == tuple(SaleStatus)
    assert get_args(schemas.UserOut.model_fields["role"].annotation) == tuple(Role)
    assert get_args(statement_schemas.StatementOut.model_fields["kind"].annotation) == tuple(StatementKind)
    assert get_args(statement_schemas.StatementOut.model_fields["status"].annotation) == tuple(StatementStatus)


def test_timestamps_come_back_aware_utc_whatever_zone_they_were_written_in():
    written = datetime(2026, 11, 20, 9, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    email = _email(sent_at=written)
    db.session.expire(email)

    assert email.sent_at == written
    assert email.sent_at.tzinfo == timezone.utc and email.sent_at.hour == 17
    assert email.created_at.tzinfo == timezone.utc  # the database's own CURRENT_TIMESTAMP
    # Compared as instants whatever zone the bound value is in (SQLite compares the stored text).
    after = datetime(2026, 11, 20, 17, 29, tzinfo=timezone.utc)
    before = datetime(2026, 11, 20, 9, 31, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert db.session.scalar(select(OutgoingEmail.id).where(
        OutgoingEmail.id == email.id, OutgoingEmail.sent_at > after, OutgoingEmail.sent_at < before))


def test_a_naive_timestamp_is_refused_rather_than_guessed():
    with pytest.raises(StatementError, match="naive datetime"):
        _email(sent_at=datetime(2026, 11, 20, 9, 30))
    db.session.rollback()
