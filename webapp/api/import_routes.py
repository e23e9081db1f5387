"""API v1 imports. Sales (managers and admins, as the import page): a CSV of sales for the caller's
team, tried first (a dry run answers what would be created, skipped or refused, writing nothing),
then imported whole or not at all; rows are keyed, so importing the same file again skips them.
Targets (admins, as the targets page's import): every row checked, then all set or none."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from webapp.api.convert import money
from webapp.api.framework import ApiError, DryRun, Strict, operation
from webapp.api.schemas import MoneyOut
from webapp.auth.models import Role
from webapp.commissions import target_import
from webapp.sales import imports
from webapp.sales.csv_format import IMPORT_COLUMNS
from webapp.sales.import_file import MAX_ROWS, ImportFileError


class SalesImportIn(Strict):
    """The file's text and whether to only try it."""

    csv: Annotated[str, StringConstraints(min_length=1, max_length=60_000)] = Field(
        description=f"The header then a line per sale: {','.join(IMPORT_COLUMNS)} (co_agents optional); at most "
                    f"{MAX_ROWS:,} rows, within the 64 KB body")
    dry_run: bool = Field(False, description="true: answer what would happen, write nothing")


class ImportedRow(BaseModel):
    """What a row makes: a new sale, or nothing (a row of this key was imported before)."""

    line: int
    key: str
    created: bool
    sale_id: int | None = Field(description="The sale imported earlier under this key (null for a new one "
                                            "until imported)")
    status: str
    amount: MoneyOut
    sold_on: date


class SalesImportOut(BaseModel):
    """The outcome of a dry run or an import."""

    dry_run: bool
    created: int = Field(description="Sales the import makes (made, unless a dry run)")
    skipped: int = Field(description="Rows imported before (same key): nothing made")
    volume: MoneyOut = Field(description="Total amount of the sales made")
    ignored_columns: list[str]
    rows: list[ImportedRow]


@operation("POST", "/imports/sales", summary="Import sales from CSV (try it first with dry_run)", tag="Sales",
           area="sales", body=SalesImportIn, responses={201: SalesImportOut, 200: SalesImportOut},
           roles=(Role.MANAGER, Role.ADMIN), write=True, errors=(409,))
def import_sales(user, body: SalesImportIn):
    """Every row or none: a row refused anywhere refuses the import (422, each refusal beside
    `lines.<line>.<column>`); a dry run answers 200 and writes nothing."""
    try:
        result = imports.run_import(user, body.csv.encode("utf-8"))
    except ImportFileError as exc:
        raise ApiError(422, exc.message, {"csv": exc.message}) from exc
    if not result.ok:
        fields = {f"lines.{error.line}.{error.column}": error.message for error in result.errors}
        raise ApiError(422, f"{result.error_lines} row(s) are refused; nothing was imported.", fields)
    answer = SalesImportOut(
        dry_run=body.dry_run, created=len(result.to_create), skipped=len(result.skipped),
        volume=money(result.volume_cents), ignored_columns=result.ignored_columns,
        rows=[ImportedRow(line=row.line, key=row.key, created=row.created, sale_id=row.sale_id, status=row.status,
                          amount=money(row.amount_cents), sold_on=row.sold_on) for row in result.rows])
    if body.dry_run:
        raise DryRun(answer)
    return answer, 201


class TargetsImportIn(Strict):
    """The targets file's text."""

    csv: Annotated[str, StringConstraints(min_length=1, max_length=60_000)] = Field(
        description=f"The header {','.join(target_import.COLUMNS)}, then a line per agent and month "
                    "(YYYY-MM, an amount above zero)")


class TargetsImportOut(BaseModel):
    """How many targets were set, or the background operation setting many."""

    set: int = Field(description="Targets set (all of them, or 0 while an operation sets them)")
    operation_id: int | None = Field(description="Set when a background operation sets them: follow it at "
                                                 "GET /operations/{operation_id}")


@operation("POST", "/imports/targets", summary="Import monthly targets from CSV, all or none", tag="Plans",
           area="admin", body=TargetsImportIn, responses={200: TargetsImportOut}, roles=(Role.ADMIN,), write=True)
def import_targets(user, body: TargetsImportIn):
    """Every row is checked first (each refused row beside `lines.<line>`, nothing set); many rows
    are set by a background operation (Operation-Location)."""
    try:
        done = target_import.import_targets(user, body.csv.encode("utf-8"))
    except target_import.TargetImportError as exc:
        fields = {f"lines.{line}": problem for problem in exc.rows
                  if (line := problem.removeprefix("Line ").split(":", 1)[0]).isdigit()}
        raise ApiError(422, exc.message, fields or {"csv": exc.message}) from exc
    if isinstance(done, int):
        return TargetsImportOut(set=done, operation_id=None)
    return TargetsImportOut(set=0, operation_id=done.id)
