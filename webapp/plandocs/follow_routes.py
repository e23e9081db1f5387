"""Plan document pages (filled in by the issue-15 work)."""

from webapp.plandocs import bp  # noqa: F401
