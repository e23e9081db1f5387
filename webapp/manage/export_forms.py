"""Export forms: the date range (and status) of the sales and ledger CSV downloads."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice

from webapp.manage import exports


class _RangeForm(FlaskForm):
    """A date range read from the query string (a GET that changes nothing: no CSRF token)."""

    class Meta:
        csrf = False


class SalesExportForm(_RangeForm):
    """First day, last day, status (ids prefixed: both forms share one page)."""

    start = StringField("From", id="sales-start", render_kw={"type": "date"})
    end = StringField("To", id="sales-end", render_kw={"type": "date"})
    status = SelectField("Status", id="sales-status", validate_choice=False, choices=[
        SelectChoice("", "Every status"), *(SelectChoice(s, s.title()) for s in exports.SALE_STATUSES)])


class LedgerExportForm(_RangeForm):
    """First day and last day of the periods to export."""

    start = StringField("Periods starting from", id="ledger-start", render_kw={"type": "date"})
    end = StringField("To", id="ledger-end", render_kw={"type": "date"})
