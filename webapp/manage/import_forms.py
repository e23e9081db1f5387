"""Import forms: the CSV upload, and the confirmation of a previewed file."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField


class UploadForm(FlaskForm):
    """The CSV file to import."""

    file = FileField("CSV file", render_kw={"accept": ".csv,text/csv"})


class ConfirmForm(FlaskForm):
    """Confirms an import (only the CSRF token: the upload is named by the URL)."""
