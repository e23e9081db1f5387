"""Importing monthly targets from a CSV file (email,month,amount): every row is checked first and
nothing is written unless all of them are good; then each target is set as on the targets page
(webapp/commissions/targets.py: lock, write, recompute the agent-month), inside the request for a
few rows, else as a background operation (webapp/operations) working through them in batches."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from webapp.auth.models import Role, User
from webapp.commissions.targets import set_target
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.formtools import parse_year_month
from webapp.money import MoneyError, parse_money, to_cents
from webapp.operations import services as operations

COLUMNS = ("email", "month", "amount")
MAX_ROWS = 20_000
# Row problems listed beside the upload field; beyond this a count says how many more there are.
SHOWN_ERRORS = 50


class TargetImportError(ServiceError):
    """The file cannot be imported: a message for the upload field and each row's problem."""

    def __init__(self, message: str, rows: list[str] | None = None):
        """A message about the file, and the problems of its rows (line by line)."""
        super().__init__(message, "file", status=422)
        self.rows = rows or []


@dataclass(frozen=True)
class TargetRow:
    """One good row: whose target, for which month (its first day), how much."""

    line: int
    agent_id: int
    month: date
    amount_cents: int


def _lines(data: bytes) -> list[tuple[int, list[str]]]:
    """The file's data rows (line number, trimmed cells) after a header of exactly COLUMNS."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TargetImportError("The file is not UTF-8 text. Save it as \"CSV UTF-8\" and upload it again.") from exc
    # PostgreSQL refuses NUL in any text parameter (the email lookup): refused here, beside the field.
    if "\x00" in text:
        raise TargetImportError("This does not look like a CSV file (it contains NUL bytes).")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [cell.strip().lower() for cell in next(reader, [])]
        if tuple(header) != COLUMNS:
            raise TargetImportError(f"The first line must be the header {','.join(COLUMNS)}.")
        rows, line = [], reader.line_num + 1
        for cells in reader:
            start, line = line, reader.line_num + 1
            if any(cell.strip() for cell in cells):
                rows.append((start, [cell.strip() for cell in cells]))
            if len(rows) > MAX_ROWS:
                raise TargetImportError(f"The file has more than {MAX_ROWS:,} rows. Split it into smaller files.")
    except csv.Error as exc:
        raise TargetImportError(f"Line {reader.line_num}: the file is not valid CSV ({exc}).") from exc
    if not rows:
        raise TargetImportError("The file has a header but no rows.")
    return rows


def _agents_by_email(emails: set[str]) -> dict[str, int]:
    """Agent ids by lower-cased email, for the emails named (one query per thousand)."""
    found: dict[str, int] = {}
    names = sorted(emails)
    for start in range(0, len(names), 1000):
        found.update(db.session.execute(select(func.lower(User.email), User.id).where(
            func.lower(User.email).in_(names[start:start + 1000]), User.role == Role.AGENT)).tuples().all())
    return found


def _amount(text: str) -> int:
    """A target amount in cents, or MoneyError."""
    return to_cents(parse_money(text, what="a target amount"))


def parse_targets(data: bytes) -> list[TargetRow]:
    """Every row of the file checked (agent, month, amount, no repeats): the rows, or a
    TargetImportError listing each problem by line; nothing is written either way."""
    rows = _lines(data)
    agents = _agents_by_email({cells[0].lower() for _, cells in rows if cells})
    good, problems, seen = [], [], {}
    for line, cells in rows:
        if len(cells) != len(COLUMNS):
            problems.append(f"Line {line}: expected {len(COLUMNS)} cells ({','.join(COLUMNS)}), found {len(cells)}.")
            continue
        email, month_text, amount_text = cells
        agent_id, month = agents.get(email.lower()), parse_year_month(month_text)
        wrong = []
        if agent_id is None:
            wrong.append(f"no agent has the email {email!r}")
        if month is None:
            wrong.append("write the month as YYYY-MM")
        try:
            cents = _amount(amount_text)
        except MoneyError as exc:
            wrong.append(str(exc).rstrip(".").lower() if str(exc) else "enter an amount")
        if not wrong and (agent_id, month) in seen:
            wrong.append(f"repeats line {seen[(agent_id, month)]}")
        if wrong:
            problems.append(f"Line {line}: {'; '.join(wrong)}.")
            continue
        seen[(agent_id, month)] = line
        good.append(TargetRow(line, agent_id, month, cents))
    if problems:
        shown = problems[:SHOWN_ERRORS]
        if len(problems) > SHOWN_ERRORS:
            shown.append(f"… and {len(problems) - SHOWN_ERRORS:,} more.")
        raise TargetImportError(f"{len(problems):,} row{'s' if len(problems) != 1 else ''} of the file "
                                "cannot be imported; nothing was imported.", shown)
    return good


def _apply(actor, items: list) -> None:
    """Set each [agent id, month, cents] as the targets page does (lock, write, recompute)."""
    for agent_id, month, cents in items:
        set_target(actor, agent_id=agent_id, month=date.fromisoformat(month), amount_cents=cents)


def import_targets(actor, data: bytes):
    """Check the whole file, then set every target: here for a few rows (returns how many), else in
    a background operation (returned)."""
    rows = parse_targets(data)
    # Agent id order: a batch then locks its agents in id order, as every multi-agent change does.
    items = sorted([row.agent_id, row.month.isoformat(), row.amount_cents] for row in rows)
    if operations.is_large(len(items)):
        return operations.start(actor, TARGET_IMPORT, items)
    _apply(actor, items)
    return len(items)


def _import_step(operation, batch: list) -> list[str]:
    """Set a batch of the imported targets (setting one again to the same amount changes nothing)."""
    _apply(operation.created_by, batch)
    return []


TARGET_IMPORT = operations.register(operations.Kind(
    name="target_import", label="Importing targets", step=_import_step,
    finish=lambda operation: {"figures": {"Targets set": operation.total}},
    link=lambda operation: ("admin.targets", {}, "Back to the targets"))).name
