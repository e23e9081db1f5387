"""Period forms: the confirmation of a close."""

from __future__ import annotations

from flask_wtf import FlaskForm


class CloseForm(FlaskForm):
    """Confirms a close (only the CSRF token: the period is named by the URL)."""
