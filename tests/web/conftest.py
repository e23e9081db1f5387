"""Fixtures of the web tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def api(app):
    """A plain client for the API: it never uses cookies."""
    return app.test_client()
