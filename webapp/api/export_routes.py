"""API v1 CSV exports (managers and admins, as the exports page): sales dated in a range, and
ledger entries of the periods starting in it; streamed, the same files the page downloads."""

from __future__ import annotations

from flask import Response, stream_with_context
from pydantic import BaseModel, ConfigDict

from webapp.api.framework import operation
from webapp.api.schemas import QueryDate, SaleStatusName
from webapp.auth.models import Role
from webapp.manage import exports

MANAGERS = (Role.MANAGER, Role.ADMIN)


class ExportQuery(BaseModel):
    """The days to export (the first and the last, both included)."""

    model_config = ConfigDict(extra="forbid")
    start: QueryDate
    end: QueryDate


class SalesExportQuery(ExportQuery):
    """The days to export, and optionally one status."""

    status: SaleStatusName | None = None


def _csv(chunks, filename: str) -> Response:
    """A streamed CSV answer (the generator keeps the request context while it runs)."""
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@operation("GET", "/exports/sales.csv", summary="Sales dated in a range, as CSV (your team; admins: all)",
           tag="Exports", area="sales", query=SalesExportQuery, responses={200: None}, roles=MANAGERS,
           binary="text/csv")
def export_sales(user, query: SalesExportQuery):
    """The exports page's sales file: one row per sale with its credits and commission."""
    export = exports.parse_request(query.start.isoformat(), query.end.isoformat(), query.status)
    suffix = f"_{export.status}" if export.status else ""
    return _csv(exports.sales_csv(user, export), f"sales_{export.slug}{suffix}.csv")


@operation("GET", "/exports/ledger.csv", summary="Ledger entries of the periods starting in a range, as CSV",
           tag="Exports", area="ledger", query=ExportQuery, responses={200: None}, roles=MANAGERS,
           binary="text/csv")
def export_ledger(user, query: ExportQuery):
    """The exports page's ledger file: one row per entry of the team's agents (admins: all)."""
    export = exports.parse_request(query.start.isoformat(), query.end.isoformat())
    return _csv(exports.ledger_csv(user, export), f"ledger_{export.slug}.csv")
