"""API v1 sales import (managers and admins, as the import page): a CSV of sales for the caller's
team, tried first (a dry run answers what would be created, skipped or refused, writing nothing),
then imported whole or not at all. Rows are keyed, so importing the same file again skips them."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from webapp.api.convert import money
from webapp.api.framework import ApiError, DryRun, Strict, operation
from webapp.api.schemas import MoneyOut
from webapp.auth.models import Role
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
